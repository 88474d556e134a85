"""The local backend: a Qwen-family model through transformers on this machine, with the CUDA fast path and the fleet."""
