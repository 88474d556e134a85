"""The decode step's residual add + RMS norm of one bf16 row in ONE Triton launch, bit for bit.

fast_kernels.add_rms_norm takes three launches because the norm's mean, ``squares.mean(-1)``,
is left to PyTorch: its float32 sum depends on the order of the additions. This kernel
redoes that order. For one contiguous row of W float32 squares (W > 128, W % 4 == 0, the
squares tensor freshly allocated, so 16-byte aligned) ATen's CUDA reduce
(aten/src/ATen/native/cuda/Reduce.cuh, ``ReduceOp<float, MeanOps<float, float>, uint32, float, 4>``)
runs as follows:

* ``setReduceConfig``: the row is the fastest dimension and longer than 128 values, so the input
  is vectorized (``vectorize_input``, ``dim0 = W / 4``); ``set_block_dimension(W / 4, 1)`` gives
  a block of T = min(last_pow2(W / 4), 512) threads in x and one in y; ``values_per_thread`` is
  under 256, so there is no split across blocks (and a split across warps with blockDim.y = 1
  changes nothing). W = 2048 and 3584 both give T = 512.
* ``input_vectorized_thread_reduce_impl``: thread t loads the 4-vectors t, t + T, t + 2T, ...
  and adds element i of each into its own accumulator i (in that order, from 0); no head (the
  data is aligned) and no tail (W % 4 == 0). The four accumulators are then folded left to
  right: ((a0 + a1) + a2) + a3.
* ``block_x_reduce``: shared memory halves the T values down to a warp (value[t] +=
  value[t + offset], offset T/2 ... 32), then warp shuffles finish the warp. Current CUDA
  builds shuffle with offsets 16, 8, 4, 2, 1 (halving again, so the whole tree is
  "t pairs with t + n/2"); older builds and ROCm used 1, 2, 4, 8, 16 (adjacent lanes pair).
* ``MeanOps::project``: the sum times ``factor``, ``float(1) / W`` rounded to float32
  (``mean_kernel_impl`` in ReduceMomentKernel.cu), one float32 product.

``MeanOrder`` names these choices so that benchmarks/gpu_probe_mean.py can tell on the GPU
which one PyTorch's build takes. Every sum here is spelled out as adds whose pairing we fix:
a ``tl.sum`` over an axis of two is one addition, and "picking" one slice of a tensor as a
``tl.sum`` of it with zeros elsewhere adds only +0.0, which is exact for the non-negative
squares. ``enable_fp_fusion=False`` keeps ``sum * factor + eps`` from becoming an FMA.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import torch

_MAX_THREADS = 512  # ATen's mnt_wrapper<float>::MAX_NUM_THREADS
_WARP = 32
_MIN_VECTORIZED_WIDTH = 129  # setReduceConfig vectorizes rows longer than 128 (newer builds: from 128)
_MAX_VALUES_PER_THREAD = 256  # from here on ATen splits a row across blocks (not emulated)


@dataclass(frozen=True)
class MeanOrder:
    """How ATen's CUDA mean sums one row (module docstring); the defaults are our reading of torch 2.11."""

    vector: int = 4  # elements per vectorized load, one accumulator each (ATen's input_vec_size)
    warp_descending: bool = True  # warp shuffle offsets 16..1 (True) or 1..16 (False)
    divide: bool = False  # mean as sum / W (True) instead of sum * float32(1 / W) (False)


ATEN = MeanOrder()
VARIANTS: dict[str, MeanOrder] = {
    "aten": ATEN,
    "ascending_warp": MeanOrder(warp_descending=False),
    "divide": MeanOrder(divide=True),
    "vector8": MeanOrder(vector=8),
}


@dataclass(frozen=True)
class RowLaunch:
    """The compile-time shape of the emulation for one row width."""

    width: int
    threads: int  # ATen's blockDim.x
    rounds: int  # vectors per thread, rounded up to a power of two (extra ones are masked to 0)
    vector: int
    halvings: int  # tree levels pairing t with t + n/2 (the rest pair adjacent lanes)

    @property
    def levels(self) -> int:  # log2(threads): the depth of the block's tree
        return self.threads.bit_length() - 1


@functools.cache  # called every decode step: keep host work off the token's path
def row_launch(width: int, order: MeanOrder = ATEN) -> RowLaunch:
    """ATen's launch configuration for the mean of one contiguous row of ``width`` float32 values."""
    if width < _MIN_VECTORIZED_WIDTH or width % order.vector:
        raise ValueError(f"row width {width}: ATen reduces it unvectorized or with a tail, which is not emulated")
    vectors = width // order.vector
    threads = _MAX_THREADS if vectors >= _MAX_THREADS else _last_pow2(vectors)
    if -(-width // threads) >= _MAX_VALUES_PER_THREAD:
        raise ValueError(f"row width {width}: ATen splits it across blocks, which is not emulated")
    levels = threads.bit_length() - 1
    halvings = levels if order.warp_descending else max(levels - _WARP.bit_length() + 1, 0)
    return RowLaunch(width, threads, _pow2(-(-vectors // threads)), order.vector, halvings)


@functools.cache
def handles(width: int) -> bool:
    """Whether rows of ``width`` have a launch configuration here (``row_launch`` does not refuse them)."""
    try:
        row_launch(width)
    except ValueError:
        return False
    return True


def _last_pow2(n: int) -> int:
    return 1 << (n.bit_length() - 1)


def _pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


@functools.cache
def mean_factor(width: int, order: MeanOrder = ATEN) -> float:
    """The float32 the sum is multiplied by (or divided by, for ``divide``), as a Python float."""
    if order.divide:
        return float(width)
    return float(torch.tensor(1.0, dtype=torch.float32) / width)  # float(1) / W in float32, as ATen


@functools.cache
def _kernel() -> Any:
    from . import (  # imports Triton: only where the kernel runs
        rmsnorm_triton as fast_rmsnorm_triton,
    )

    return fast_rmsnorm_triton.add_rms_norm_rows


def add_rms_norm_rows(
    residual: torch.Tensor,
    delta: torch.Tensor | None,
    weight: torch.Tensor,
    eps: float,
    *,
    order: MeanOrder = ATEN,
    num_warps: int = 8,
    variance: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``residual + delta`` and its RMS norm, each row normalized as if it were a lone (1, 1, W) row.

    One launch, one program per row. Only a single row equals eager PyTorch: ATen reduces a
    many-row tensor with another launch configuration, hence another order. ``variance``
    (float32, one per row) receives the means for checking. ``delta`` None: only the norm.
    """
    width = residual.shape[-1]
    _check(residual, weight, width)
    if delta is not None:
        _check(delta, weight, width)
    launch = row_launch(width, order)
    rows = residual.numel() // width
    total = torch.empty_like(residual) if delta is not None else residual
    out = torch.empty_like(residual)
    if variance is not None and (variance.dtype != torch.float32 or variance.numel() != rows):
        raise ValueError(f"variance must hold {rows} float32 values, got {variance.dtype} {tuple(variance.shape)}")
    _kernel()[(rows,)](
        residual,
        residual if delta is None else delta,
        weight,
        total,
        out,
        out if variance is None else variance,
        mean_factor(width, order),
        eps,
        WIDTH=width,
        THREADS=launch.threads,
        ROUNDS=launch.rounds,
        VECTOR=launch.vector,
        LEVELS=launch.levels,
        HALVINGS=launch.halvings,
        HAS_DELTA=delta is not None,
        DIVIDE=order.divide,
        WRITE_VARIANCE=variance is not None,
        num_warps=num_warps,
        enable_fp_fusion=False,
    )
    return total, out


def add_rms_norm_row(
    residual: torch.Tensor, delta: torch.Tensor | None, weight: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """fast_kernels.add_rms_norm for one contiguous bf16 row of shape (1, 1, W), in one launch.

    Returns (total, normed); with ``delta`` None, total is ``residual`` itself.
    """
    if residual.numel() != residual.shape[-1]:
        raise ValueError(f"one row expected, got shape {tuple(residual.shape)}")
    return add_rms_norm_rows(residual, delta, weight, eps)


@torch.inference_mode()
def equals_eager(norm: Any, rows: int = 64) -> bool:
    """Does ``add_rms_norm_row`` equal ``norm(residual + delta)`` here (this GPU, this PyTorch build)?

    The order emulated is our reading of one ATen version (gpu_probe_mean.py confirmed it for
    torch 2.11 on an H100); a build that sums differently must fall back to the three launches.
    Random rows over five decades, with and without ``delta``; any differing bit says no.
    """
    weight = norm.weight
    width = weight.shape[0]
    try:
        row_launch(width)
    except ValueError:
        return False
    generator = torch.Generator(device=weight.device).manual_seed(0)  # leaves the global RNG alone

    def row(scale: float) -> torch.Tensor:
        values = torch.randn((1, 1, width), generator=generator, device=weight.device) * scale
        return values.to(torch.bfloat16)

    for index in range(rows):
        scale = 10.0 ** (index % 5 - 2)
        residual, delta = row(scale), row(scale)
        total, normed = add_rms_norm_row(residual, delta, weight, norm.variance_epsilon)
        expected_total = residual + delta
        if not (torch.equal(total, expected_total) and torch.equal(normed, norm(expected_total))):
            return False
        if not torch.equal(add_rms_norm_row(residual, None, weight, norm.variance_epsilon)[1], norm(residual)):
            return False
    return True


def _check(x: torch.Tensor, weight: torch.Tensor, width: int) -> None:
    if x.dtype != torch.bfloat16 or not x.is_contiguous() or x.shape[-1] != width:
        raise ValueError(f"contiguous bf16 rows of {width} expected, got {x.dtype} {tuple(x.shape)}")
    if weight.dtype != torch.bfloat16 or weight.shape != (width,) or not weight.is_contiguous():
        raise ValueError(f"a contiguous bf16 weight of {width} expected, got {weight.dtype} {tuple(weight.shape)}")
