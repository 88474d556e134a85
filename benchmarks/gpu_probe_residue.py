"""Which K order does cuBLAS's sm80 kernel use for the vision MLP's down projection? A GPU probe.

The down projection multiplies over K = 3,420, not a multiple of the kernel's 32-deep tile.
Padding K with zeros changed the bits (gpu_probe_padding.py), which suggested the partial tile
is not taken last. This probe runs a Triton product that takes the 28-wide partial tile first
(its values at the start or at the end of the 32-wide tile) or last, with the bias added before
or after rounding, or no bias, and compares each with ``F.linear`` bit for bit.

Result on an H100 (torch 2.11): every variant differs in 27-38% of the outputs, also without
bias, so that kernel does not run K as one in-order chain (unlike cuBLAS's unsplit Hopper
kernels, which Triton matches exactly: gpu_probe_gemv.py). The down projection stays cuBLAS.

    python3 benchmarks/gpu_probe_residue.py
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_check_kernels import differing
from benchmarks.gpu_probe_padding import timed_ms


def kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def gemm(
        a_ptr,
        b_ptr,
        bias_ptr,
        c_ptr,
        M,
        N,
        K,
        RESIDUE: tl.constexpr,
        SHIFT: tl.constexpr,
        FIRST: tl.constexpr,
        TILE: tl.constexpr,
        BIAS: tl.constexpr,
        BM: tl.constexpr,
        BN: tl.constexpr,
        BK: tl.constexpr,
    ):
        rm = tl.program_id(0) * BM + tl.arange(0, BM)
        rn = tl.program_id(1) * BN + tl.arange(0, BN)
        acc = tl.zeros([BM, BN], dtype=tl.float32)
        if FIRST:
            # The partial tile first: TILE positions, the RESIDUE real ones shifted right by SHIFT.
            kr = tl.arange(0, TILE) - SHIFT
            inside = (kr >= 0) & (kr < RESIDUE)
            a0 = tl.load(a_ptr + rm[:, None] * K + kr[None, :], mask=(rm[:, None] < M) & inside[None, :], other=0.0)
            b0 = tl.load(b_ptr + rn[None, :] * K + kr[:, None], mask=(rn[None, :] < N) & inside[:, None], other=0.0)
            acc = tl.dot(a0, b0, acc)
            start = RESIDUE
        else:
            start = 0
        for k0 in range(start, K, BK):
            k = k0 + tl.arange(0, BK)
            a = tl.load(a_ptr + rm[:, None] * K + k[None, :], mask=(rm[:, None] < M) & (k[None, :] < K), other=0.0)
            b = tl.load(b_ptr + rn[None, :] * K + k[:, None], mask=(rn[None, :] < N) & (k[:, None] < K), other=0.0)
            acc = tl.dot(a, b, acc)
        bias = tl.load(bias_ptr + rn, mask=rn < N).to(tl.float32)[None, :]
        if BIAS == 1:  # added to the float32 accumulator, rounded once
            acc = acc + bias
        if BIAS == 2:  # the product rounded to bf16, then the bias added in bf16
            acc = acc.to(tl.bfloat16).to(tl.float32) + bias
        tl.store(c_ptr + rm[:, None] * N + rn[None, :], acc.to(tl.bfloat16), mask=(rm[:, None] < M) & (rn[None, :] < N))

    return gemm


def main() -> int:
    import torch
    import torch.nn.functional as F
    import triton

    torch.manual_seed(0)
    gemm = kernel()
    tokens, width, inner = 4888, 1280, 3420
    residue = inner % 32
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    with torch.inference_mode():
        h = torch.randn(tokens, inner, device="cuda").bfloat16()
        w = (torch.randn(width, inner, device="cuda") * 0.03).bfloat16()
        b = (torch.randn(width, device="cuda") * 0.03).bfloat16()
        reference = F.linear(h, w, b)
        print(f"F.linear {timed_ms(functools.partial(F.linear, h, w, b)) * 1000:.1f} us")
        unbiased = F.linear(h, w)
        print(f"F.linear without bias {timed_ms(functools.partial(F.linear, h, w)) * 1000:.1f} us")
        variants = {
            "partial tile first, values left": (True, 0),
            "partial tile first, values right": (True, 32 - residue),
            "partial tile last": (False, 0),
        }
        for name, (first, shift) in variants.items():
            for bias_mode, expected in ((0, unbiased), (1, reference), (2, reference)):
                bm, bn, bk, warps, stages = 128, 128, 64, 8, 3
                out = torch.empty(tokens, width, device="cuda", dtype=torch.bfloat16)
                run = functools.partial(
                    gemm[(triton.cdiv(tokens, bm), triton.cdiv(width, bn))],
                    h,
                    w,
                    b,
                    out,
                    tokens,
                    width,
                    inner,
                    RESIDUE=residue,
                    SHIFT=shift,
                    FIRST=first,
                    TILE=32,
                    BIAS=bias_mode,
                    BM=bm,
                    BN=bn,
                    BK=bk,
                    num_warps=warps,
                    num_stages=stages,
                )
                run()
                print(
                    f"{name:34s} bias mode {bias_mode}: {differing(out, expected)} of {out.numel()} differ, "
                    f"{timed_ms(run) * 1000:.1f} us"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
