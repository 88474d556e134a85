"""The Triton kernels behind fast_gemv (imported only where they run: CUDA with Triton).

Module-level so that they can call one another (``row_times``) and Triton's interpreter can
find them by name. See fast_gemv for why they equal cuBLAS and eager PyTorch bit for bit.
"""

import triton
import triton.language as tl
import triton.language.extra.libdevice  # makes tl.extra.libdevice (used below) exist


@triton.jit
def row_times(x_ptr, w_ptr, n, N, K, start, stop, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # x[start:stop] times rows n of w (N x K): tensor-core slices in K order, one float32 accumulator.
    copies = tl.arange(0, 16)
    acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    for k0 in range(start, stop, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        inside = k < stop
        w = tl.load(w_ptr + n[:, None] * K + k[None, :], mask=(n[:, None] < N) & inside[None, :], other=0.0)
        x = tl.load(x_ptr + k[:, None] + copies[None, :] * 0, mask=inside[:, None], other=0.0)
        acc = tl.dot(w, x, acc)
    return tl.max(acc, axis=1)  # the 16 columns are equal


@triton.jit
def split_rows(x_ptr, w_ptr, n, N, K, SPLITS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # The product as a cuBLAS split-K kernel forms it: K in SPLITS equal pieces, each an in-order
    # chain, the pieces added in order (SPLITS = 1: cuBLAS's unsplit kernels).
    piece = K // SPLITS
    total = row_times(x_ptr, w_ptr, n, N, K, 0, piece, BLOCK_N, BLOCK_K)
    for split in tl.static_range(1, SPLITS):
        total = total + row_times(x_ptr, w_ptr, n, N, K, split * piece, (split + 1) * piece, BLOCK_N, BLOCK_K)
    return total


@triton.jit
def biased_rows(
    x_ptr,
    w_ptr,
    b_ptr,
    out_ptr,
    block,
    N,
    K,
    SPLITS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    HAS_BIAS: tl.constexpr,
):
    # Block ``block`` of rows of F.linear(x, w, b): the bias (if any) joins the float32 sum, one rounding to bf16.
    n = block * BLOCK_N + tl.arange(0, BLOCK_N)
    value = split_rows(x_ptr, w_ptr, n, N, K, SPLITS, BLOCK_N, BLOCK_K)
    if HAS_BIAS:
        value = value + tl.load(b_ptr + n, mask=n < N).to(tl.float32)
    tl.store(out_ptr + n, value.to(tl.bfloat16), mask=n < N)


@triton.jit
def linear_rows(
    x_ptr,
    w_ptr,
    b_ptr,
    out_ptr,
    N,
    K,
    SPLITS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    HAS_BIAS: tl.constexpr,
):
    biased_rows(x_ptr, w_ptr, b_ptr, out_ptr, tl.program_id(0), N, K, SPLITS, BLOCK_N, BLOCK_K, HAS_BIAS)


@triton.jit
def qkv_rows(
    x_ptr,
    wq_ptr,
    bq_ptr,
    wk_ptr,
    bk_ptr,
    wv_ptr,
    bv_ptr,
    q_ptr,
    k_ptr,
    v_ptr,
    NQ,
    NKV,
    K,
    Q_SPLITS: tl.constexpr,
    KV_SPLITS: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    HAS_BIAS: tl.constexpr,
):
    # The attention's three projections of one row in one launch: q blocks first, then k, then v.
    block = tl.program_id(0)
    q_blocks = tl.cdiv(NQ, BLOCK_N)
    kv_blocks = tl.cdiv(NKV, BLOCK_N)
    if block < q_blocks:
        biased_rows(x_ptr, wq_ptr, bq_ptr, q_ptr, block, NQ, K, Q_SPLITS, BLOCK_N, BLOCK_K, HAS_BIAS)
    elif block < q_blocks + kv_blocks:
        biased_rows(x_ptr, wk_ptr, bk_ptr, k_ptr, block - q_blocks, NKV, K, KV_SPLITS, BLOCK_N, BLOCK_K, HAS_BIAS)
    else:
        biased_rows(
            x_ptr, wv_ptr, bv_ptr, v_ptr, block - q_blocks - kv_blocks, NKV, K, KV_SPLITS, BLOCK_N, BLOCK_K, HAS_BIAS
        )


@triton.jit
def gate_up_silu(x_ptr, gate_ptr, up_ptr, out_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    copies = tl.arange(0, 16)
    gate_acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    up_acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    for start in range(0, K, BLOCK_K):
        k = start + tl.arange(0, BLOCK_K)
        rows = n[:, None] * K + k[None, :]
        inside = (n[:, None] < N) & (k[None, :] < K)
        x = tl.load(x_ptr + k[:, None] + copies[None, :] * 0, mask=k[:, None] < K, other=0.0)
        gate_acc = tl.dot(tl.load(gate_ptr + rows, mask=inside, other=0.0), x, gate_acc)
        up_acc = tl.dot(tl.load(up_ptr + rows, mask=inside, other=0.0), x, up_acc)
    # Each product rounded to bf16 as F.linear returns it, then fast_kernels' silu_mul arithmetic.
    gate = tl.max(gate_acc, axis=1).to(tl.bfloat16).to(tl.float32)
    up = tl.max(up_acc, axis=1).to(tl.bfloat16).to(tl.float32)
    activated = tl.math.div_rn(gate, 1.0 + tl.extra.libdevice.exp(-gate)).to(tl.bfloat16).to(tl.float32)
    tl.store(out_ptr + n, (activated * up).to(tl.bfloat16), mask=n < N)


@triton.jit
def head_logits(x_ptr, w_ptr, out_ptr, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    product = row_times(x_ptr, w_ptr, n, N, K, 0, K, BLOCK_N, BLOCK_K)
    tl.store(out_ptr + n, product.to(tl.bfloat16).to(tl.float32), mask=n < N)
