"""The Triton kernels behind fast_gemv (imported only where they run: CUDA with Triton).

Module-level so that they can call one another (``row_times``) and Triton's interpreter can
find them by name. See fast_gemv for why they equal cuBLAS and eager PyTorch bit for bit.
"""

import triton
import triton.language as tl
import triton.language.extra.libdevice  # makes tl.extra.libdevice (used below) exist


@triton.jit
def row_times(x_ptr, w_ptr, n, N, K, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # x (K) times rows n of w (N x K): tensor-core slices in K order, one float32 accumulator.
    copies = tl.arange(0, 16)
    acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
    for start in range(0, K, BLOCK_K):
        k = start + tl.arange(0, BLOCK_K)
        w = tl.load(w_ptr + n[:, None] * K + k[None, :], mask=(n[:, None] < N) & (k[None, :] < K), other=0.0)
        x = tl.load(x_ptr + k[:, None] + copies[None, :] * 0, mask=k[:, None] < K, other=0.0)
        acc = tl.dot(w, x, acc)
    return tl.max(acc, axis=1)  # the 16 columns are equal


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
    product = row_times(x_ptr, w_ptr, n, N, K, BLOCK_N, BLOCK_K)
    tl.store(out_ptr + n, product.to(tl.bfloat16).to(tl.float32), mask=n < N)
