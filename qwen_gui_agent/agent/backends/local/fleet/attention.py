"""Attention of one new token per row over the fleet's static KV cache, each row to its own length.

The fleet's decode step asked PyTorch's masked (memory-efficient) kernel: with one query per row
it runs one block per (row, key head) that walks the whole cache, 32 blocks on an H100's 132
processors for 8 rows of the 7B model, 78 us a layer (2.2 of the step's 9.8 ms) to read 15 MB.
Here the cache is cut into stretches of ``chunk`` keys, each (row, key head, stretch) a program
(the query heads sharing a key head together, so the keys are read once), and a second launch
merges the stretches' partial softmaxes (split-KV decoding, as in flash-decoding). A stretch
past a row's length does no work. Rows' lengths are read on the GPU, so the step stays one
CUDA graph. Not bit for bit the masked kernel (another summation order): the fleet already
differs from ``generate`` in rounding (fleet.py).

Before it, ``rotate_and_store_rows`` applies the rotary to every row's q and k and writes k and v
into each row's cache at its length: one launch for what took a dozen per layer (bf16 products
and sums rounded as transformers' eager rotary rounds them). The joins' prefill uses it too, for
all the tokens of the joining rows.
"""

from __future__ import annotations

import math

import torch


def applies(kernels: bool, head_dim: int) -> bool:
    """Whether these kernels run here: Triton on CUDA (``kernels``) and a power-of-two head size."""
    return kernels and head_dim > 0 and head_dim & (head_dim - 1) == 0


def decode_attention(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, length: torch.Tensor,
                     scale: float, chunk: int = 256) -> torch.Tensor:
    """softmax(q k^T * scale) v for each row over its keys 0..length[row].

    q is (rows, heads, dim); keys and values (rows, kv_heads, capacity, dim) contiguous; length (rows,)
    int64 on the GPU. Returns (rows, heads, dim) in q's dtype. ``dim`` must be a power of two.
    """
    from . import attention_triton as kernels

    rows, kv_heads, capacity, dim = keys.shape
    heads = q.shape[1]
    group = heads // kv_heads
    splits = math.ceil(capacity / chunk)
    block_g = max(16, 1 << (group - 1).bit_length())  # tl.dot needs 16 rows at least
    q = q.contiguous()
    acc = torch.empty((rows, kv_heads, splits, block_g, dim), device=q.device, dtype=torch.float32)
    best = torch.empty((rows, kv_heads, splits, block_g), device=q.device, dtype=torch.float32)
    weight = torch.empty_like(best)
    kernels.partial_attention[(rows, kv_heads, splits)](
        q, keys, values, length, acc, best, weight, scale, capacity, q.stride(0), keys.stride(0), keys.stride(1),
        SPLITS=splits, CHUNK=chunk, GROUP=group, BLOCK_G=block_g, DIM=dim, BLOCK_N=64)
    out = torch.empty((rows, heads, dim), device=q.device, dtype=q.dtype)
    kernels.combine_splits[(rows, kv_heads)](acc, best, weight, out, out.stride(0), SPLITS=splits, GROUP=group,
                                             BLOCK_G=block_g, DIM=dim)
    return out


def rotate_and_store_rows(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                          keys: torch.Tensor, values: torch.Tensor, slots: torch.Tensor,
                          starts: torch.Tensor) -> torch.Tensor:
    """Rotary on q and k (bf16) of ``rows`` x ``width`` tokens; each row's k and v stored in its cache row.

    q is (rows, width, heads * dim), k and v (rows, width, kv_heads * dim), cos and sin (rows, width, dim),
    all contiguous bf16; the caches (slots, kv_heads, capacity, dim). Row r's token i goes to cache row
    ``slots[r]`` at position ``starts[r] + i`` (decoding: width 1, ``starts`` the rows' lengths). Returns
    the rotated q, shaped like q.
    """
    from . import attention_triton as kernels

    dim = keys.shape[-1]
    rows, width = q.shape[0], q.shape[1]
    heads, kv_heads = q.shape[-1] // dim, k.shape[-1] // dim
    q, k, v, cos, sin = (t.contiguous() for t in (q, k, v, cos, sin))
    out = torch.empty_like(q)
    kernels.rotate_store_rows[(heads + kv_heads, rows * width)](
        q, k, v, cos, sin, out, keys, values, slots, starts, width, heads, heads * dim, kv_heads * dim,
        keys.stride(0), keys.stride(1), HALF=dim // 2, enable_fp_fusion=False)
    return out
