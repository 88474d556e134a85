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

``grouped_query_prefill`` is the joins' attention: every joining token over its row's kept prefix
and its own tokens, the query heads of a key head reading that head's keys in place (grouped-query
attention) instead of a copy of the keys per query head.

Before it, ``rotate_and_store_rows`` applies the rotary to every row's q and k and writes k and v
into each row's cache at its length: one launch for what took a dozen per layer (bf16 products
and sums rounded as transformers' eager rotary rounds them). The joins' prefill uses it too, for
all the tokens of the joining rows.
"""

from __future__ import annotations

import functools
import logging
import math

import torch
import torch.nn.functional as F
from torch.nn.attention.bias import causal_lower_right

log = logging.getLogger(__name__)


def applies(kernels: bool, head_dim: int) -> bool:
    """Whether these kernels run here: Triton on CUDA (``kernels``) and a power-of-two head size."""
    return kernels and head_dim > 0 and head_dim & (head_dim - 1) == 0


def decode_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, length: torch.Tensor, scale: float, chunk: int = 256
) -> torch.Tensor:
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
        q,
        keys,
        values,
        length,
        acc,
        best,
        weight,
        scale,
        capacity,
        q.stride(0),
        keys.stride(0),
        keys.stride(1),
        SPLITS=splits,
        CHUNK=chunk,
        GROUP=group,
        BLOCK_G=block_g,
        DIM=dim,
        BLOCK_N=64,
    )
    out = torch.empty((rows, heads, dim), device=q.device, dtype=q.dtype)
    kernels.combine_splits[(rows, kv_heads)](
        acc, best, weight, out, out.stride(0), SPLITS=splits, GROUP=group, BLOCK_G=block_g, DIM=dim
    )
    return out


def rotate_and_store_rows(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    slots: torch.Tensor,
    starts: torch.Tensor,
) -> torch.Tensor:
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
        q,
        k,
        v,
        cos,
        sin,
        out,
        keys,
        values,
        slots,
        starts,
        width,
        heads,
        heads * dim,
        kv_heads * dim,
        keys.stride(0),
        keys.stride(1),
        HALF=dim // 2,
        enable_fp_fusion=False,
    )
    return out


def grouped_query_prefill(q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: float) -> torch.Tensor:
    """Causal attention of (rows, heads, width, dim) queries over (rows, kv_heads, length, dim) keys and values,
    aligned lower right: query i sees the ``length - width`` keys before its own tokens and its own up to i.

    The query heads of a key head share its keys (``enable_gqa``) where this device's SDPA does that under the
    lower-right mask (checked once, ``_grouped_queries_run``); elsewhere the keys are repeated per query head.
    """
    width, length = q.shape[2], keys.shape[2]
    mask = causal_lower_right(width, length) if length > width else None
    groups = q.shape[1] // keys.shape[1]
    if groups > 1 and not _grouped_queries_run(q.device.type, q.dtype):
        keys, values = (t.repeat_interleave(groups, dim=1) for t in (keys, values))
        groups = 1
    return F.scaled_dot_product_attention(
        q, keys, values, attn_mask=mask, is_causal=mask is None, scale=scale, enable_gqa=groups > 1
    )


@functools.cache
def _grouped_queries_run(device: str, dtype: torch.dtype) -> bool:
    """Does SDPA take grouped queries under a lower-right causal mask here, with the repeated keys' result?"""
    generator = torch.Generator(device=device).manual_seed(0)
    q, k, v = (
        torch.randn(shape, generator=generator, device=device).to(dtype)
        for shape in ((2, 4, 16, 64), (2, 2, 48, 64), (2, 2, 48, 64))
    )
    mask = causal_lower_right(16, 48)
    try:
        grouped = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    except RuntimeError as error:
        log.info("grouped-query attention under a lower-right mask is not available here (%s): keys repeated", error)
        return False
    repeated = F.scaled_dot_product_attention(
        q, k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1), attn_mask=mask
    )
    same = bool(torch.allclose(grouped.float(), repeated.float(), atol=2e-2, rtol=2e-2))
    log.info("grouped-query attention in the joins' prefill: %s", "keys read in place" if same else "keys repeated")
    return same
