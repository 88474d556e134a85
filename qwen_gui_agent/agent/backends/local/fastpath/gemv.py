"""Matrix-vector products of the decode step, fused with the work around them, equal to cuBLAS.

A one-token step multiplies one row by each weight matrix. cuBLAS's kernels for that feed the
tensor cores 16-deep slices of K in order into one float32 accumulator, or (split-K kernels)
do so for a few equal pieces of K and add the pieces in order; the same arithmetic in any
kernel rounds to the same bits. benchmarks/gpu_probe_gemv.py and gpu_probe_splitk.py showed
it on an H100: Triton ``tl.dot`` chains equal ``F.linear`` for every decode product, the 7B's
k/v as two pieces, the 3B's down as four. That lets one kernel do a product and its neighbours:

- ``gate_up_silu``: the MLP's gate and up products and ``silu(gate) * up``, rounded at each
  step as eager PyTorch does (three launches and two passes over 18,944 values -> one);
- ``qkv``: the attention's q, k and v products with their biases (five launches -> one);
- ``head_logits``: the language head, written as float32 logits as ``.float()`` would.

Which kernel cuBLAS picks depends on the GPU and the library version, so ``plan_for`` checks
each fused product against ``F.linear`` on the model's own weights when the fast path starts
(16 random rows; the split count of q/k/v is searched) and keeps cuBLAS for any that differs.

The row is broadcast over 16 columns because ``tl.dot`` needs 16; the columns are equal, so
taking their maximum returns the value exactly. CUDA with Triton only (fast_kernels.available).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)

# (BLOCK_N, BLOCK_K, num_warps, num_stages) per kernel, from benchmarks/gpu_probe_gemv.py on an H100;
# any choice gives the same bits, only the speed differs.
# o_proj stays cuBLAS: a fused o_proj + residual add measured 15.9 us against 12.7 us for cuBLAS and
# add_rms_norm (3,584 rows are too few to keep the GPU busy without splitting K).
GATE_UP_CONFIG = (64, 128, 4, 4)
HEAD_CONFIG = (64, 256, 8, 3)
QKV_CONFIG = (64, 256, 8, 4)
SPLIT_CANDIDATES = (1, 2, 4, 8, 7, 14, 16)  # pieces of K tried for q/k/v, most likely first
_TILE = 64  # split pieces are whole 64-deep tiles


@functools.cache
def _kernels() -> dict[str, Any]:
    from . import (  # imports Triton: only where the kernels run
        gemv_triton as fast_gemv_triton,
    )

    return {
        "gate_up_silu": fast_gemv_triton.gate_up_silu,
        "head_logits": fast_gemv_triton.head_logits,
        "qkv_rows": fast_gemv_triton.qkv_rows,
        "linear_rows": fast_gemv_triton.linear_rows,
    }


def _launch(name: str, config: tuple[int, int, int, int], rows: int, *args: Any, **constants: Any) -> None:
    """``rows`` output rows in blocks of BLOCK_N (for qkv: the q blocks, then the k and the v blocks)."""
    block_n, block_k, warps, stages = config
    _kernels()[name][(-(-rows // block_n),)](
        *args, **constants, BLOCK_N=block_n, BLOCK_K=block_k, num_warps=warps, num_stages=stages, enable_fp_fusion=False
    )


def gate_up_silu(
    x: torch.Tensor, gate: torch.Tensor, up: torch.Tensor, config: tuple[int, int, int, int] = GATE_UP_CONFIG
) -> torch.Tensor:
    """``silu(F.linear(x, gate)) * F.linear(x, up)`` for one contiguous bf16 row, bit for bit, in one launch."""
    rows, width = gate.shape
    out = torch.empty((*x.shape[:-1], rows), device=x.device, dtype=x.dtype)
    _launch("gate_up_silu", config, rows, x, gate, up, out, rows, width)
    return out


def head_logits(x: torch.Tensor, weight: torch.Tensor, config: tuple[int, int, int, int] = HEAD_CONFIG) -> torch.Tensor:
    """``F.linear(x, weight).float()`` for one contiguous bf16 row, as a flat float32 vector, bit for bit."""
    rows, width = weight.shape
    out = torch.empty(rows, device=x.device, dtype=torch.float32)
    _launch("head_logits", config, rows, x, weight, out, rows, width)
    return out


def linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    splits: int,
    config: tuple[int, int, int, int] = QKV_CONFIG,
) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` for one bf16 row with K in ``splits`` pieces (what ``plan_for`` tries)."""
    rows, width = weight.shape
    out = torch.empty((*x.shape[:-1], rows), device=x.device, dtype=x.dtype)
    _launch(
        "linear_rows",
        config,
        rows,
        x,
        weight,
        weight if bias is None else bias,
        out,
        rows,
        width,
        SPLITS=splits,
        HAS_BIAS=bias is not None,
    )
    return out


def qkv(
    x: torch.Tensor, attn: Any, splits: tuple[int, int], config: tuple[int, int, int, int] = QKV_CONFIG
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k and v of one contiguous bf16 row (each shaped like x, last dim its width), one launch.

    ``splits`` are the K pieces of q and of k/v that make them equal cuBLAS's (``GemvPlan.qkv``). The three
    projections have biases (Qwen2.5-VL) or none (Qwen3-VL).
    """
    q_rows, width = attn.q_proj.weight.shape
    kv_rows = attn.k_proj.weight.shape[0]
    q = torch.empty((*x.shape[:-1], q_rows), device=x.device, dtype=x.dtype)
    k = torch.empty((*x.shape[:-1], kv_rows), device=x.device, dtype=x.dtype)
    v = torch.empty_like(k)
    block_n = config[0]
    blocks = -(-q_rows // block_n) + 2 * -(-kv_rows // block_n)
    biased = attn.q_proj.bias is not None

    def bias(projection: Any) -> torch.Tensor:  # a stand-in pointer where there is no bias (never read)
        return projection.bias if biased else projection.weight

    _launch(
        "qkv_rows",
        config,
        blocks * block_n,
        x,
        attn.q_proj.weight,
        bias(attn.q_proj),
        attn.k_proj.weight,
        bias(attn.k_proj),
        attn.v_proj.weight,
        bias(attn.v_proj),
        q,
        k,
        v,
        q_rows,
        kv_rows,
        width,
        Q_SPLITS=splits[0],
        KV_SPLITS=splits[1],
        HAS_BIAS=biased,
    )
    return q, k, v


@dataclass(frozen=True)
class GemvPlan:
    """Which fused products equal cuBLAS on this GPU and library (the others stay cuBLAS)."""

    gate_up: bool = False
    head: bool = False
    qkv: tuple[int, int] | None = None  # K pieces of q and of k/v, when some count matched


@torch.inference_mode()
def plan_for(layer: Any, head: Any, rows: int = 16) -> GemvPlan:
    """Compare each fused product with cuBLAS on ``layer``'s (and the head's) weights, on random rows.

    cuBLAS picks kernels by shape, so one layer stands for all. A fused product that differs in
    any bit is not used; for q/k/v the K split that cuBLAS uses is searched among SPLIT_CANDIDATES.
    """
    weight = layer.mlp.gate_proj.weight
    generator = torch.Generator(device=weight.device).manual_seed(0)  # leaves the global RNG alone
    xs = [
        torch.randn((1, 1, weight.shape[1]), generator=generator, device=weight.device).to(weight.dtype)
        for _ in range(rows)
    ]
    plan = GemvPlan(
        gate_up=_gate_up_matches(layer.mlp, xs), head=_head_matches(head, xs), qkv=_qkv_splits(layer.self_attn, xs)
    )
    log.info("fused decode products equal to cuBLAS here: %s", plan)
    return plan


def _gate_up_matches(mlp: Any, xs: list[torch.Tensor]) -> bool:
    gate, up = mlp.gate_proj, mlp.up_proj
    if gate.bias is not None or up.bias is not None:
        return False
    return all(torch.equal(gate_up_silu(x, gate.weight, up.weight), F.silu(gate(x)) * up(x)) for x in xs)


def _head_matches(head: Any, xs: list[torch.Tensor]) -> bool:
    if head.bias is not None:
        return False
    return all(torch.equal(head_logits(x[:, -1, :], head.weight), head(x)[:, -1, :].float().view(-1)) for x in xs)


def _qkv_splits(attn: Any, xs: list[torch.Tensor]) -> tuple[int, int] | None:
    projections = (attn.q_proj, attn.k_proj)
    if len({p.bias is None for p in (*projections, attn.v_proj)}) > 1:  # all with biases or none
        return None
    q_split, k_split = (_matching_split(p, xs) for p in projections)
    if q_split is None or k_split is None or _matching_split(attn.v_proj, xs, (k_split,)) is None:
        return None
    return q_split, k_split


def _matching_split(
    projection: Any, xs: list[torch.Tensor], candidates: tuple[int, ...] = SPLIT_CANDIDATES
) -> int | None:
    tiles, remainder = divmod(projection.weight.shape[1], _TILE)
    for splits in candidates:
        if splits > 1 and (remainder or tiles % splits):
            continue
        if all(torch.equal(linear(x, projection.weight, projection.bias, splits), projection(x)) for x in xs):
            return splits
    return None
