"""The CUDA fast path of the local backend: exact kernels, CUDA graphs and grammar-constrained decoding.

Imported only by agent/backends/local/backend.py (and the GPU benchmarks): everything here needs torch,
and most of it CUDA with Triton. engine.FastPath is the entry point.
"""
