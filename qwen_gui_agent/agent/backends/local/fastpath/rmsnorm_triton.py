"""The Triton kernel behind fast_rmsnorm (imported only where it runs: CUDA with Triton, or its interpreter).

Module-level so that the kernel can call its helpers and Triton's interpreter can find them by
name. See fast_rmsnorm for the order of the additions and why it is ATen's.
"""

import triton
import triton.language as tl


@triton.jit
def pick(x, index, which: tl.constexpr, axis: tl.constexpr):
    # Slice ``which`` of ``x`` along ``axis``: the other slices become +0.0, and adding zeros is exact.
    return tl.sum(tl.where(index == which, x, 0.0), axis=axis)


@triton.jit
def row_sum(
    squares,
    THREADS: tl.constexpr,
    ROUNDS: tl.constexpr,
    VECTOR: tl.constexpr,
    LEVELS: tl.constexpr,
    HALVINGS: tl.constexpr,
):
    # squares is [ROUNDS, THREADS, VECTOR]: thread t's r-th vector, element i. Each thread's
    # accumulator i adds its vectors in order; then ((a0 + a1) + a2) + a3; then the block's tree.
    if ROUNDS <= 2:  # one vector or two: a sum of two values is one addition, in either order
        acc = tl.sum(squares, axis=0)
    else:
        acc = pick(squares, tl.arange(0, ROUNDS)[:, None, None], 0, 0)
        for r in tl.static_range(1, ROUNDS):
            acc = acc + pick(squares, tl.arange(0, ROUNDS)[:, None, None], r, 0)
    value = pick(acc, tl.arange(0, VECTOR)[None, :], 0, 1)
    for i in tl.static_range(1, VECTOR):
        value = value + pick(acc, tl.arange(0, VECTOR)[None, :], i, 1)
    # value[t] + value[t + n/2]: shared memory down to a warp, and the warp too when descending.
    for level in tl.static_range(HALVINGS):
        value = tl.sum(tl.reshape(value, [2, THREADS >> (level + 1)]), axis=0)
    # Ascending shuffles pair adjacent lanes: value[2j] + value[2j + 1].
    for level in tl.static_range(HALVINGS, LEVELS):
        value = tl.sum(tl.reshape(value, [THREADS >> (level + 1), 2]), axis=1)
    return tl.sum(value, axis=0)  # one value left


@triton.jit
def add_rms_norm_rows(
    residual_ptr,
    delta_ptr,
    weight_ptr,
    total_ptr,
    out_ptr,
    variance_ptr,
    factor,
    eps,
    WIDTH: tl.constexpr,
    THREADS: tl.constexpr,
    ROUNDS: tl.constexpr,
    VECTOR: tl.constexpr,
    LEVELS: tl.constexpr,
    HALVINGS: tl.constexpr,
    HAS_DELTA: tl.constexpr,
    DIVIDE: tl.constexpr,
    WRITE_VARIANCE: tl.constexpr,
):
    # One program per row; each row is reduced as ATen reduces a lone (1, 1, WIDTH) row.
    row = tl.program_id(0)
    rounds = tl.arange(0, ROUNDS)[:, None, None]
    threads = tl.arange(0, THREADS)[None, :, None]
    lanes = tl.arange(0, VECTOR)[None, None, :]
    column = (rounds * THREADS + threads) * VECTOR + lanes
    mask = column < WIDTH
    at = row * WIDTH + column
    x = tl.load(residual_ptr + at, mask=mask, other=0.0).to(tl.float32)
    if HAS_DELTA:
        total = (x + tl.load(delta_ptr + at, mask=mask, other=0.0).to(tl.float32)).to(tl.bfloat16)
        tl.store(total_ptr + at, total, mask=mask)
        x = total.to(tl.float32)
    total_of_squares = row_sum(x * x, THREADS, ROUNDS, VECTOR, LEVELS, HALVINGS)
    if DIVIDE:
        variance = tl.math.div_rn(total_of_squares, factor)
    else:
        variance = total_of_squares * factor
    if WRITE_VARIANCE:
        tl.store(variance_ptr + row, variance)
    # The rest as fast_kernels.normalize: weight * (x * rsqrt(variance + eps)).to(bf16).
    scale = tl.math.rsqrt(variance + eps)
    y = (x * scale).to(tl.bfloat16).to(tl.float32)
    w = tl.load(weight_ptr + column, mask=mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + at, (w * y).to(tl.bfloat16), mask=mask)
