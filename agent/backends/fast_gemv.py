"""Matrix-vector products of the decode step, fused with the element-wise work around them.

A one-token step multiplies one row by each weight matrix. cuBLAS does it with kernels
that, unless they split K, feed the tensor cores 16-deep slices of K in order into one
float32 accumulator; the same product done that way by any kernel rounds to the same bits
(benchmarks/gpu_probe_gemv.py: Triton ``tl.dot`` in K order against ``F.linear`` for every
7B and 3B decode shape cuBLAS does not split; the split ones, down and k/v, differ and stay
cuBLAS). That lets the product and what follows it share one kernel:

- ``gate_up_silu``: the MLP's gate and up products and ``silu(gate) * up``, rounded at each
  step as eager PyTorch does (three launches and two passes over 18,944 values -> one);
- ``head_logits``: the language head, written as float32 logits as ``.float()`` would.

The row is broadcast over 16 columns because ``tl.dot`` needs 16; the columns are equal, so
taking their maximum returns the value exactly. CUDA with Triton only (fast_kernels.available).
"""

from __future__ import annotations

import functools
from typing import Any

import torch

# (BLOCK_N, BLOCK_K, num_warps, num_stages) per kernel, from benchmarks/gpu_probe_gemv.py on an H100;
# any choice gives the same bits, only the speed differs.
# The square 3,584-wide products (q, o) stay cuBLAS: too few rows to keep the GPU busy without splitting
# K, and a fused o_proj + residual add measured 15.9 us against 12.7 us for cuBLAS and add_rms_norm.
GATE_UP_CONFIG = (64, 128, 4, 3)
HEAD_CONFIG = (64, 256, 8, 3)


@functools.cache
def _kernels() -> dict[str, Any]:
    from agent.backends import fast_gemv_triton  # imports Triton: only where the kernels run

    return {"gate_up_silu": fast_gemv_triton.gate_up_silu, "head_logits": fast_gemv_triton.head_logits}


def _launch(name: str, config: tuple[int, int, int, int], rows: int, *args: Any) -> None:
    block_n, block_k, warps, stages = config
    _kernels()[name][(-(-rows // block_n),)](*args, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=warps,
                                              num_stages=stages, enable_fp_fusion=False)


def gate_up_silu(x: torch.Tensor, gate: torch.Tensor, up: torch.Tensor,
                 config: tuple[int, int, int, int] = GATE_UP_CONFIG) -> torch.Tensor:
    """``silu(F.linear(x, gate)) * F.linear(x, up)`` for one contiguous bf16 row, bit for bit, in one launch."""
    rows, width = gate.shape
    out = torch.empty((*x.shape[:-1], rows), device=x.device, dtype=x.dtype)
    _launch("gate_up_silu", config, rows, x, gate, up, out, rows, width)
    return out


def head_logits(x: torch.Tensor, weight: torch.Tensor,
                config: tuple[int, int, int, int] = HEAD_CONFIG) -> torch.Tensor:
    """``F.linear(x, weight).float()`` for one contiguous bf16 row, as a flat float32 vector, bit for bit."""
    rows, width = weight.shape
    out = torch.empty(rows, device=x.device, dtype=torch.float32)
    _launch("head_logits", config, rows, x, weight, out, rows, width)
    return out
