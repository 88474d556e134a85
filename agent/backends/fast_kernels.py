"""Triton kernels for the decode step that round exactly like the eager PyTorch they replace.

The one-token step is launch-bound: ~1,000 tiny element-wise kernels on top of the weight
reads. Fusing them usually changes rounding (and with it greedy tokens on near-ties), so these
kernels redo the eager operations one by one in the same precision: each bf16 operation is
computed in float32 and rounded to bf16 right away, float32 products and sums are not
contracted into FMAs (``enable_fp_fusion=False``), and the one reduction (the RMS norm's mean)
stays PyTorch's own kernel. benchmarks/gpu_check_tokens.py checks the logits bit for bit.

Used only on CUDA with Triton available; ``available()`` says so, and callers fall back to
the eager operations otherwise.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import torch


def available(device: torch.device) -> bool:
    return device.type == "cuda" and importlib.util.find_spec("triton") is not None


@functools.cache
def _kernels() -> dict[str, Any]:
    import triton
    import triton.language as tl

    @triton.jit
    def square(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask).to(tl.float32)
        tl.store(out_ptr + offsets, x * x, mask=mask)

    @triton.jit
    def normalize(x_ptr, variance_ptr, weight_ptr, out_ptr, n, eps, BLOCK: tl.constexpr):
        # weight * (x.float() * rsqrt(variance + eps)).to(bf16), each step rounded as eager does.
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask).to(tl.float32)
        scale = tl.math.rsqrt(tl.load(variance_ptr) + eps)
        y = (x * scale).to(tl.bfloat16).to(tl.float32)
        w = tl.load(weight_ptr + offsets, mask=mask).to(tl.float32)
        tl.store(out_ptr + offsets, (w * y).to(tl.bfloat16), mask=mask)

    @triton.jit
    def rotate_store(q_ptr, k_ptr, v_ptr, cos_ptr, sin_ptr, q_out_ptr, keys_ptr, values_ptr, index_ptr,
                     q_heads, kv_heads, head_stride_cache, HALF: tl.constexpr):
        # One program per head: q heads first, then k heads (rotated and written into the cache at
        # the current slot, with v). (x * cos) + (rotate_half(x) * sin), each product and the sum in bf16.
        head = tl.program_id(0)
        d = tl.arange(0, 2 * HALF)
        partner = tl.where(d < HALF, d + HALF, d - HALF)
        sign = tl.where(d < HALF, -1.0, 1.0)
        cos = tl.load(cos_ptr + d).to(tl.float32)
        sin = tl.load(sin_ptr + d).to(tl.float32)
        slot = tl.load(index_ptr)
        if head < q_heads:
            base = head * 2 * HALF
            x = tl.load(q_ptr + base + d).to(tl.float32)
            r = tl.load(q_ptr + base + partner).to(tl.float32) * sign
            a = (x * cos).to(tl.bfloat16).to(tl.float32)
            b = (r * sin).to(tl.bfloat16).to(tl.float32)
            tl.store(q_out_ptr + base + d, (a + b).to(tl.bfloat16))
        else:
            kv = head - q_heads
            base = kv * 2 * HALF
            x = tl.load(k_ptr + base + d).to(tl.float32)
            r = tl.load(k_ptr + base + partner).to(tl.float32) * sign
            a = (x * cos).to(tl.bfloat16).to(tl.float32)
            b = (r * sin).to(tl.bfloat16).to(tl.float32)
            target = kv * head_stride_cache + slot * 2 * HALF + d
            tl.store(keys_ptr + target, (a + b).to(tl.bfloat16))
            tl.store(values_ptr + target, tl.load(v_ptr + base + d))

    return {"square": square, "normalize": normalize, "rotate_store": rotate_store}


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen2 RMSNorm for one bf16 row, bit for bit, in three launches instead of eight."""
    kernels = _kernels()
    n = x.numel()
    block = 1024
    grid = (-(-n // block),)
    squares = torch.empty(x.shape, device=x.device, dtype=torch.float32)
    kernels["square"][grid](x, squares, n, BLOCK=block, enable_fp_fusion=False)
    variance = squares.mean(-1, keepdim=True)  # PyTorch's own reduction: the same summation order
    out = torch.empty_like(x)
    kernels["normalize"][grid](x, variance, weight, out, n, eps, BLOCK=block, enable_fp_fusion=False)
    return out


def rotate_and_store(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                     keys: torch.Tensor, values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rotary on q and k as transformers applies it, k and v written into the cache at ``index``; returns q.

    q is (1, heads, 1, dim), k and v (1, kv_heads, 1, dim) contiguous; the caches (1, kv_heads, slots, dim).
    """
    heads, kv_heads, dim = q.shape[1], k.shape[1], q.shape[-1]
    q_out = torch.empty((1, heads, 1, dim), device=q.device, dtype=q.dtype)
    _kernels()["rotate_store"][(heads + kv_heads,)](
        q, k, v, cos, sin, q_out, keys, values, index, heads, kv_heads, keys.stride(1), HALF=dim // 2,
        enable_fp_fusion=False)
    return q_out
