"""The Triton kernels behind fast_gemv's ``*_many`` products (imported only where they run: CUDA with Triton).

gemv_triton.py's kernels take one row and broadcast it over the 16 columns ``tl.dot`` needs.
These take up to 16 rows (the fleet's decode rows) as those 16 columns instead, zero past the
last row. A column's arithmetic does not depend on the others (each output is its own in-order
chain of 16-deep slices of K into one float32 accumulator), so with the same block sizes column
m equals what the one-row kernel (K unsplit) gives for row m alone, and the fleet's products are
the single stream's fused ones. Module-level so that they can call one another and Triton's
interpreter can find them by name.
"""

import triton
import triton.language as tl
import triton.language.extra.libdevice  # makes tl.extra.libdevice (used below) exist


@triton.jit
def rows_times(x_ptr, w_ptr, n, N, K, M, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # Rows n of w (N x K) times the M rows of x (M x K, contiguous): (BLOCK_N, 16), column m for row m of x.
    m = tl.arange(0, 16)
    acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        inside = k < K
        w = tl.load(w_ptr + n[:, None] * K + k[None, :], mask=(n[:, None] < N) & inside[None, :], other=0.0)
        x = tl.load(x_ptr + m[None, :] * K + k[:, None], mask=inside[:, None] & (m[None, :] < M), other=0.0)
        acc = tl.dot(w, x, acc)
    return acc


@triton.jit
def store_rows(out_ptr, value, n, N, M):
    # value (BLOCK_N, 16) into out (M x N, contiguous) as out[m, n]; columns past M are never written.
    m = tl.arange(0, 16)
    tl.store(out_ptr + m[None, :] * N + n[:, None], value, mask=(n[:, None] < N) & (m[None, :] < M))


@triton.jit
def biased_many(
    x_ptr, w_ptr, b_ptr, out_ptr, block, N, K, M, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, HAS_BIAS: tl.constexpr
):
    # Block ``block`` of F.linear(x, w, b)'s columns for every row: the bias joins the float32 sum, one rounding.
    n = block * BLOCK_N + tl.arange(0, BLOCK_N)
    value = rows_times(x_ptr, w_ptr, n, N, K, M, BLOCK_N, BLOCK_K)
    if HAS_BIAS:
        value = value + tl.load(b_ptr + n, mask=n < N).to(tl.float32)[:, None]
    store_rows(out_ptr, value.to(tl.bfloat16), n, N, M)


@triton.jit
def qkv_many(
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
    M,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    HAS_BIAS: tl.constexpr,
):
    # The attention's three projections of M rows in one launch: q blocks first, then k, then v.
    block = tl.program_id(0)
    q_blocks = tl.cdiv(NQ, BLOCK_N)
    kv_blocks = tl.cdiv(NKV, BLOCK_N)
    if block < q_blocks:
        biased_many(x_ptr, wq_ptr, bq_ptr, q_ptr, block, NQ, K, M, BLOCK_N, BLOCK_K, HAS_BIAS)
    elif block < q_blocks + kv_blocks:
        biased_many(x_ptr, wk_ptr, bk_ptr, k_ptr, block - q_blocks, NKV, K, M, BLOCK_N, BLOCK_K, HAS_BIAS)
    else:
        biased_many(x_ptr, wv_ptr, bv_ptr, v_ptr, block - q_blocks - kv_blocks, NKV, K, M, BLOCK_N, BLOCK_K, HAS_BIAS)


@triton.jit
def gate_up_silu_many(x_ptr, gate_ptr, up_ptr, out_ptr, N, K, M, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    m = tl.arange(0, 16)
    gate_acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    up_acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    for start in range(0, K, BLOCK_K):  # both products in one pass over K, x's slice loaded once
        k = start + tl.arange(0, BLOCK_K)
        rows = n[:, None] * K + k[None, :]
        inside = (n[:, None] < N) & (k[None, :] < K)
        x = tl.load(x_ptr + m[None, :] * K + k[:, None], mask=(k[:, None] < K) & (m[None, :] < M), other=0.0)
        gate_acc = tl.dot(tl.load(gate_ptr + rows, mask=inside, other=0.0), x, gate_acc)
        up_acc = tl.dot(tl.load(up_ptr + rows, mask=inside, other=0.0), x, up_acc)
    # The one-row kernel's rounding steps: each product to bf16 as F.linear returns it, then silu_mul's.
    # (Columns past M are zero: silu(0) * 0 = 0, and they are not stored.)
    gate = gate_acc.to(tl.bfloat16).to(tl.float32)
    up = up_acc.to(tl.bfloat16).to(tl.float32)
    activated = tl.math.div_rn(gate, 1.0 + tl.extra.libdevice.exp(-gate)).to(tl.bfloat16).to(tl.float32)
    store_rows(out_ptr, (activated * up).to(tl.bfloat16), n, N, M)


@triton.jit
def head_logits_many(x_ptr, w_ptr, out_ptr, N, K, M, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # The head for M rows, written as float32 logits the way ``F.linear(x, w).float()`` gives them.
    n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    product = rows_times(x_ptr, w_ptr, n, N, K, M, BLOCK_N, BLOCK_K)
    store_rows(out_ptr, product.to(tl.bfloat16).to(tl.float32), n, N, M)
