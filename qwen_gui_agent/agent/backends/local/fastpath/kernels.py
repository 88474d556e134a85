"""Triton kernels for the fast path that round exactly like the eager PyTorch they replace.

The one-token step is launch-bound: ~1,000 tiny element-wise kernels on top of the weight
reads, and the vision tower's float32 rotary makes a dozen passes over its activations.
Fusing them usually changes rounding (and with it greedy tokens on near-ties), so these
kernels redo the eager operations one by one in the same precision: each bf16 operation is
computed in float32 and rounded to bf16 right away, float32 products and sums are not
contracted into FMAs (``enable_fp_fusion=False``), the exponential and the division are the
CUDA math library's correctly rounded ones PyTorch uses (not Triton's fast approximations),
and the one reduction (the RMS norm's mean) stays PyTorch's own kernel.
benchmarks/gpu_check_kernels.py compares each kernel with eager PyTorch bit for bit on the
GPU, and benchmarks/gpu_check_tokens.py the logits of whole answers.

Used only on CUDA with Triton available; ``available()`` says so, and callers fall back to
the eager operations otherwise.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import torch


def available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether the exact kernels apply: bf16 weights (they round to bf16) on a CUDA GPU with bf16 math.

    A float16 model (what the local backend loads on GPUs older than Ampere) keeps the eager
    operations: these kernels would round its values to bf16.
    """
    if device.type != "cuda" or dtype != torch.bfloat16 or importlib.util.find_spec("triton") is None:
        return False
    return torch.cuda.get_device_capability(device) >= (8, 0)


@functools.cache
def _kernels() -> dict[str, Any]:
    import triton
    import triton.language as tl
    import triton.language.extra.libdevice  # makes tl.extra.libdevice (used below) exist

    @triton.jit
    def square(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask).to(tl.float32)
        tl.store(out_ptr + offsets, x * x, mask=mask)

    @triton.jit
    def normalize(x_ptr, variance_ptr, weight_ptr, out_ptr, n, width, eps, BLOCK: tl.constexpr):
        # weight * (x.float() * rsqrt(variance + eps)).to(bf16), each step rounded as eager does;
        # rows of ``width`` values, one variance per row.
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        x = tl.load(x_ptr + offsets, mask=mask).to(tl.float32)
        scale = tl.math.rsqrt(tl.load(variance_ptr + offsets // width, mask=mask) + eps)
        y = (x * scale).to(tl.bfloat16).to(tl.float32)
        w = tl.load(weight_ptr + offsets % width, mask=mask).to(tl.float32)
        tl.store(out_ptr + offsets, (w * y).to(tl.bfloat16), mask=mask)

    @triton.jit
    def rotate_store(
        q_ptr,
        k_ptr,
        v_ptr,
        cos_ptr,
        sin_ptr,
        q_out_ptr,
        keys_ptr,
        values_ptr,
        index_ptr,
        q_heads,
        kv_heads,
        head_stride_cache,
        HALF: tl.constexpr,
    ):
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

    @triton.jit
    def add_square(a_ptr, b_ptr, sum_ptr, squares_ptr, n, BLOCK: tl.constexpr):
        # The residual add (bf16) and the first step of the RMS norm after it: the sum in float32, squared.
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        a = tl.load(a_ptr + offsets, mask=mask).to(tl.float32)
        b = tl.load(b_ptr + offsets, mask=mask).to(tl.float32)
        total = (a + b).to(tl.bfloat16)
        tl.store(sum_ptr + offsets, total, mask=mask)
        wide = total.to(tl.float32)
        tl.store(squares_ptr + offsets, wide * wide, mask=mask)

    @triton.jit
    def silu_mul(gate_ptr, up_ptr, out_ptr, n, width, gate_stride, up_stride, BLOCK: tl.constexpr):
        # silu(gate) * up as the MLP computes it: PyTorch's x / (1 + exp(-x)) in float32 with the
        # library's expf and an IEEE division, rounded to bf16, then the bf16 product. Rows of
        # ``width`` values; the inputs' rows may be longer (padded), the output's are not.
        offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n
        row, column = offsets // width, offsets % width
        gate = tl.load(gate_ptr + row * gate_stride + column, mask=mask).to(tl.float32)
        activated = tl.math.div_rn(gate, 1.0 + tl.extra.libdevice.exp(-gate)).to(tl.bfloat16).to(tl.float32)
        up = tl.load(up_ptr + row * up_stride + column, mask=mask).to(tl.float32)
        tl.store(out_ptr + offsets, (activated * up).to(tl.bfloat16), mask=mask)

    @triton.jit
    def vision_rope(
        qkv_ptr,
        cos_ptr,
        sin_ptr,
        out_ptr,
        tokens,
        heads,
        DIM: tl.constexpr,
        HALF: tl.constexpr,
        BLOCK_HEADS: tl.constexpr,
        BLOCK_DIM: tl.constexpr,
    ):
        # One program per (token, q or k): the vision tower's float32 rotary of all heads of that row,
        # (x * cos) + (rotate_half(x) * sin), rounded to bf16 once at the end as transformers does.
        token = tl.program_id(0)
        which = tl.program_id(1)
        head = tl.arange(0, BLOCK_HEADS)[:, None]
        d = tl.arange(0, BLOCK_DIM)[None, :]
        mask = (head < heads) & (d < DIM)
        partner = tl.where(d < HALF, d + HALF, d - HALF)
        row = qkv_ptr + (token * 3 + which) * heads * DIM + head * DIM
        x = tl.load(row + d, mask=mask).to(tl.float32)
        rotated = tl.load(row + partner, mask=mask).to(tl.float32)
        rotated = tl.where(d < HALF, -rotated, rotated)
        cos = tl.load(cos_ptr + token * DIM + d, mask=d < DIM)
        sin = tl.load(sin_ptr + token * DIM + d, mask=d < DIM)
        target = out_ptr + (which * tokens + token) * heads * DIM + head * DIM + d
        tl.store(target, ((x * cos) + (rotated * sin)).to(tl.bfloat16), mask=mask)

    return {
        "square": square,
        "normalize": normalize,
        "rotate_store": rotate_store,
        "add_square": add_square,
        "silu_mul": silu_mul,
        "vision_rope": vision_rope,
    }


_BLOCK = 1024


def _grid(n: int) -> tuple[int]:
    return (-(-n // _BLOCK),)


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen2 RMSNorm over the last dim of a contiguous bf16 tensor, bit for bit, in three
    launches instead of eight."""
    squares = torch.empty(x.shape, device=x.device, dtype=torch.float32)
    _kernels()["square"][_grid(x.numel())](x, squares, x.numel(), BLOCK=_BLOCK, enable_fp_fusion=False)
    return normalize_squares(x, squares, weight, eps)


def add_rms_norm(
    residual: torch.Tensor, delta: torch.Tensor, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``residual + delta`` and the RMS norm of that sum (contiguous bf16), bit for bit, in three launches."""
    n = residual.numel()
    total = torch.empty_like(residual)
    squares = torch.empty(residual.shape, device=residual.device, dtype=torch.float32)
    _kernels()["add_square"][_grid(n)](residual, delta, total, squares, n, BLOCK=_BLOCK, enable_fp_fusion=False)
    return total, normalize_squares(total, squares, weight, eps)


def normalize_squares(x: torch.Tensor, squares: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """The rest of the RMS norm of ``x`` given its float32 squares: the mean, then the scaling."""
    variance = squares.mean(-1, keepdim=True)  # PyTorch's own reduction: the same summation order
    out = torch.empty_like(x)
    _kernels()["normalize"][_grid(x.numel())](
        x, variance, weight, out, x.numel(), x.shape[-1], eps, BLOCK=_BLOCK, enable_fp_fusion=False
    )
    return out


def silu_mul(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """``F.silu(gate) * up`` for bf16 tensors of one shape, bit for bit, in one launch; contiguous result.

    The inputs' last dim must be contiguous; their rows may be views into wider (padded) rows.
    """
    width = gate.shape[-1]
    gate_rows, up_rows = gate.reshape(-1, width), up.reshape(-1, width)  # views for the layouts used here
    out = torch.empty(gate.shape, device=gate.device, dtype=gate.dtype)
    _kernels()["silu_mul"][_grid(gate.numel())](
        gate_rows,
        up_rows,
        out,
        gate.numel(),
        width,
        gate_rows.stride(0),
        up_rows.stride(0),
        BLOCK=_BLOCK,
        enable_fp_fusion=False,
    )
    return out


def vision_rope(
    qkv: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, heads: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The vision tower's rotary of q and k, read from the fused qkv projection (tokens, 3 * heads * dim).

    cos and sin are (tokens, dim) float32; q and k come back (tokens, heads, dim) contiguous, equal
    bit for bit to transformers' float32 ``(x * cos) + (rotate_half(x) * sin)`` cast back to bf16.
    """
    tokens = qkv.shape[0]
    dim = qkv.shape[1] // (3 * heads)
    out = torch.empty((2, tokens, heads, dim), device=qkv.device, dtype=qkv.dtype)
    _kernels()["vision_rope"][(tokens, 2)](
        qkv,
        cos,
        sin,
        out,
        tokens,
        heads,
        DIM=dim,
        HALF=dim // 2,
        BLOCK_HEADS=_pow2(heads),
        BLOCK_DIM=_pow2(dim),
        enable_fp_fusion=False,
    )
    return out[0], out[1]


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


def rotate_and_store(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    index: torch.Tensor,
) -> torch.Tensor:
    """Rotary on q and k as transformers applies it, k and v written into the cache at ``index``; returns q.

    q is (1, heads, 1, dim), k and v (1, kv_heads, 1, dim) contiguous; the caches (1, kv_heads, slots, dim).
    """
    heads, kv_heads, dim = q.shape[1], k.shape[1], q.shape[-1]
    q_out = torch.empty((1, heads, 1, dim), device=q.device, dtype=q.dtype)
    _kernels()["rotate_store"][(heads + kv_heads,)](
        q,
        k,
        v,
        cos,
        sin,
        q_out,
        keys,
        values,
        index,
        heads,
        kv_heads,
        keys.stride(1),
        HALF=dim // 2,
        enable_fp_fusion=False,
    )
    return q_out
