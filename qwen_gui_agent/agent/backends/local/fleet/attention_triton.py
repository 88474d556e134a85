"""The Triton kernels behind attention.py (imported only where they run: CUDA with Triton, or its interpreter)."""

import triton
import triton.language as tl


@triton.jit
def partial_attention(
    q_ptr,
    k_ptr,
    v_ptr,
    length_ptr,
    acc_ptr,
    max_ptr,
    sum_ptr,
    scale,
    capacity,
    q_row_stride,
    kv_row_stride,
    kv_head_stride,
    SPLITS: tl.constexpr,
    CHUNK: tl.constexpr,
    GROUP: tl.constexpr,
    BLOCK_G: tl.constexpr,
    DIM: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # One (row, key head, stretch of CHUNK keys): the GROUP query heads of that key head against the stretch's
    # visible keys, as an online softmax; the unnormalized sum, its running max and its weight go to scratch.
    row = tl.program_id(0)
    head = tl.program_id(1)
    split = tl.program_id(2)
    visible = tl.minimum(tl.load(length_ptr + row) + 1, capacity)  # keys 0..length: the cache and the new one
    g = tl.arange(0, BLOCK_G)
    d = tl.arange(0, DIM)
    q = tl.load(
        q_ptr + row * q_row_stride + (head * GROUP + g)[:, None] * DIM + d[None, :],
        mask=(g < GROUP)[:, None],
        other=0.0,
    )
    base = row * kv_row_stride + head * kv_head_stride
    best = tl.full([BLOCK_G], float("-inf"), dtype=tl.float32)
    weight = tl.zeros([BLOCK_G], dtype=tl.float32)
    acc = tl.zeros([BLOCK_G, DIM], dtype=tl.float32)
    start = split * CHUNK
    stop = tl.minimum(start + CHUNK, visible)
    for first in range(start, stop, BLOCK_N):  # no pass at all when the stretch lies past the row's length
        n = first + tl.arange(0, BLOCK_N)
        inside = n < stop
        keys = tl.load(k_ptr + base + n[:, None] * DIM + d[None, :], mask=inside[:, None], other=0.0)
        scores = tl.dot(q, tl.trans(keys)) * scale
        scores = tl.where(inside[None, :], scores, float("-inf"))
        new_best = tl.maximum(best, tl.max(scores, axis=1))  # finite: the block holds a visible key
        p = tl.exp(scores - new_best[:, None])
        fade = tl.exp(best - new_best)
        weight = weight * fade + tl.sum(p, axis=1)
        values = tl.load(v_ptr + base + n[:, None] * DIM + d[None, :], mask=inside[:, None], other=0.0)
        acc = acc * fade[:, None] + tl.dot(p.to(values.dtype), values)
        best = new_best
    slot = ((row * tl.num_programs(1) + head) * SPLITS + split) * BLOCK_G + g
    tl.store(acc_ptr + slot[:, None] * DIM + d[None, :], acc)
    tl.store(max_ptr + slot, best)
    tl.store(sum_ptr + slot, weight)


@triton.jit
def combine_splits(
    acc_ptr,
    max_ptr,
    sum_ptr,
    out_ptr,
    out_row_stride,
    SPLITS: tl.constexpr,
    GROUP: tl.constexpr,
    BLOCK_G: tl.constexpr,
    DIM: tl.constexpr,
):
    # The stretches of one (row, key head) merged: each rescaled to the overall max, summed, normalized.
    row = tl.program_id(0)
    head = tl.program_id(1)
    g = tl.arange(0, BLOCK_G)
    d = tl.arange(0, DIM)
    first = (row * tl.num_programs(1) + head) * SPLITS * BLOCK_G
    best = tl.full([BLOCK_G], float("-inf"), dtype=tl.float32)
    for split in tl.static_range(SPLITS):
        best = tl.maximum(best, tl.load(max_ptr + first + split * BLOCK_G + g))
    total = tl.zeros([BLOCK_G], dtype=tl.float32)
    out = tl.zeros([BLOCK_G, DIM], dtype=tl.float32)
    for split in tl.static_range(SPLITS):
        slot = first + split * BLOCK_G + g
        scale = tl.exp(tl.load(max_ptr + slot) - best)  # 0 for a stretch with no visible key (its max is -inf)
        total += tl.load(sum_ptr + slot) * scale
        out += tl.load(acc_ptr + slot[:, None] * DIM + d[None, :]) * scale[:, None]
    out = out / total[:, None]
    target = out_ptr + row * out_row_stride + (head * GROUP + g)[:, None] * DIM + d[None, :]
    tl.store(target, out.to(out_ptr.dtype.element_ty), mask=(g < GROUP)[:, None])


@triton.jit
def rotated(x_ptr, d, partner, sign, cos, sin):
    # transformers' apply_rotary_pos_emb in bf16 for one head: (x * cos) + (rotate_half(x) * sin), each
    # product and the sum rounded to bf16 (as fast_kernels' rotate_store, the single-stream twin).
    x = tl.load(x_ptr + d).to(tl.float32)
    r = tl.load(x_ptr + partner).to(tl.float32) * sign
    a = (x * cos).to(tl.bfloat16).to(tl.float32)
    b = (r * sin).to(tl.bfloat16).to(tl.float32)
    return (a + b).to(tl.bfloat16)


@triton.jit
def rotate_store_rows(
    q_ptr,
    k_ptr,
    v_ptr,
    cos_ptr,
    sin_ptr,
    q_out_ptr,
    keys_ptr,
    values_ptr,
    slot_ptr,
    base_ptr,
    width,
    q_heads,
    q_token_stride,
    kv_token_stride,
    cache_row_stride,
    cache_head_stride,
    HALF: tl.constexpr,
):
    # One program per (head, token): q heads first, then k heads. Token t is column t % width of row
    # t // width: its rotated k and its v go to cache row slot[row] at position base[row] + column.
    head = tl.program_id(0)
    token = tl.program_id(1)
    d = tl.arange(0, 2 * HALF)
    partner = tl.where(d < HALF, d + HALF, d - HALF)
    sign = tl.where(d < HALF, -1.0, 1.0)
    cos = tl.load(cos_ptr + token * 2 * HALF + d).to(tl.float32)
    sin = tl.load(sin_ptr + token * 2 * HALF + d).to(tl.float32)
    if head < q_heads:
        base = token * q_token_stride + head * 2 * HALF
        tl.store(q_out_ptr + base + d, rotated(q_ptr + base, d, partner, sign, cos, sin))
    else:
        kv = head - q_heads
        base = token * kv_token_stride + kv * 2 * HALF
        row = token // width
        position = tl.load(base_ptr + row) + token % width
        target = tl.load(slot_ptr + row) * cache_row_stride + kv * cache_head_stride + position * 2 * HALF + d
        tl.store(keys_ptr + target, rotated(k_ptr + base, d, partner, sign, cos, sin))
        tl.store(values_ptr + target, tl.load(v_ptr + base + d))
