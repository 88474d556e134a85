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

The fleet decodes up to 16 rows at once; ``qkv_many``, ``gate_up_silu_many`` and ``head_logits_many``
put them in those 16 columns (gemv_many_triton.py). Each row's result is the one-row kernel's
for that row alone with K unsplit: the fleet's rows need not equal cuBLAS (whose kernels for 8
rows are not its kernels for one anyway), and one launch replaces cuBLAS's three q/k/v products
with their split-K reductions, and the gate, up and SiLU launches of the MLP.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
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
# The many-row products' shapes, from benchmarks/gpu_tune_gemv_many.py at 8 rows on an H100 (weights read from
# memory; docs/fleet.md "Block shapes of the many-row products"). q/k/v: narrower blocks give the 7B's 4,608
# output rows 144 programs instead of 72 on 132 processors (18.7 -> 14.7 us a layer; Qwen3-VL-8B 22.7 -> 19.8).
# Its q and k/v branches each keep an x tile per stage in shared memory, so the one-row QKV_CONFIG asked
# 320 KB of an H200's 227 KB; this asks about 120 KB. The head: 358 -> 350 us (Qwen3-VL-8B 405 -> 398).
QKV_MANY_CONFIG = (32, 128, 4, 5)
HEAD_MANY_CONFIG = (64, 128, 4, 4)
MANY_ROWS = 16  # the columns of one tl.dot: the most rows the *_many products take


@dataclass(frozen=True)
class ManyConfigs:
    """The block shapes (BLOCK_N, BLOCK_K, num_warps, num_stages) of the fleet's three many-row products.

    Any shape gives the same bits (each output's K order is fixed: 16-deep slices in order), so a
    shape is only a speed choice; benchmarks/gpu_tune_gemv_many.py times a grid on a GPU and writes
    the fastest as JSON that ``from_mapping`` reads.
    """

    qkv: tuple[int, int, int, int] = QKV_MANY_CONFIG
    gate_up: tuple[int, int, int, int] = GATE_UP_CONFIG
    head: tuple[int, int, int, int] = HEAD_MANY_CONFIG

    @classmethod
    def from_mapping(cls, values: Mapping[str, Sequence[int]]) -> ManyConfigs:
        """From {"qkv": [64, 128, 4, 3], ...} (a missing product keeps its default); ValueError names what is wrong."""
        unknown = set(values) - {"qkv", "gate_up", "head"}
        if unknown:
            raise ValueError(f"unknown many-row products {sorted(unknown)}: qkv, gate_up and head have block shapes")
        shapes = {}
        for product, shape in values.items():
            numbers = tuple(shape)
            if len(numbers) != 4 or not all(type(n) is int and n > 0 for n in numbers):  # not bool, not float
                raise ValueError(
                    f"{product}: a block shape is four positive integers (BLOCK_N, BLOCK_K, warps, stages)"
                )
            block_n, block_k = numbers[0], numbers[1]
            if block_n < 16 or block_k < 16 or block_n & (block_n - 1) or block_k & (block_k - 1):
                raise ValueError(f"{product}: BLOCK_N and BLOCK_K are powers of two from 16 (tl.dot's tiles)")
            shapes[product] = numbers
        return cls(**shapes)


SPLIT_CANDIDATES = (1, 2, 4, 8, 7, 14, 16)  # pieces of K tried for q/k/v, most likely first
_TILE = 64  # split pieces are whole 64-deep tiles


@functools.cache
def _kernels() -> dict[str, Any]:
    # Both import Triton: only where the kernels run.
    from . import gemv_many_triton as fast_gemv_many_triton
    from . import gemv_triton as fast_gemv_triton

    return {
        "gate_up_silu": fast_gemv_triton.gate_up_silu,
        "head_logits": fast_gemv_triton.head_logits,
        "qkv_rows": fast_gemv_triton.qkv_rows,
        "linear_rows": fast_gemv_triton.linear_rows,
        "gate_up_silu_many": fast_gemv_many_triton.gate_up_silu_many,
        "head_logits_many": fast_gemv_many_triton.head_logits_many,
        "qkv_many": fast_gemv_many_triton.qkv_many,
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
    pointers, biased = _projection_pointers(attn)
    _launch(
        "qkv_rows",
        config,
        blocks * block_n,
        x,
        *pointers,
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


# -- many rows (the fleet's decode step) ---------------------------------------------------------------


def takes_many(layer: Any, head: Any) -> bool:
    """Whether the ``*_many`` products take this model's projections: gate, up and the head without biases,
    q/k/v all with biases or all without (one layer stands for all)."""
    attn, mlp = layer.self_attn, layer.mlp
    if any(p.bias is not None for p in (mlp.gate_proj, mlp.up_proj, head)):
        return False
    return len({p.bias is None for p in (attn.q_proj, attn.k_proj, attn.v_proj)}) == 1


def _many(x: torch.Tensor) -> torch.Tensor:
    """x's rows as one contiguous (M, K) matrix, 1 <= M <= MANY_ROWS (a view where x is contiguous)."""
    rows = x.reshape(-1, x.shape[-1]).contiguous()
    if not 1 <= rows.shape[0] <= MANY_ROWS:
        raise ValueError(f"{rows.shape[0]} rows: the many-row products take 1 to {MANY_ROWS}")
    return rows


def _output(out: torch.Tensor | None, x: torch.Tensor, rows: int, columns: int, dtype: torch.dtype) -> torch.Tensor:
    """``out`` checked (contiguous, ``columns`` wide, room for ``rows`` rows), else a new (*x's rows, columns)."""
    if out is None:
        return torch.empty((*x.shape[:-1], columns), device=x.device, dtype=dtype)
    if not out.is_contiguous() or out.dtype != dtype or out.shape[-1] != columns or out.numel() < rows * columns:
        raise ValueError(f"out must be contiguous {dtype} rows of {columns} values, at least {rows} of them")
    return out


def gate_up_silu_many(
    x: torch.Tensor,
    gate: torch.Tensor,
    up: torch.Tensor,
    config: tuple[int, int, int, int] = GATE_UP_CONFIG,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``silu(x @ gate.T) * (x @ up.T)`` for x's 1 to 16 bf16 rows (any leading shape), in one launch.

    Row m of the result is ``gate_up_silu`` of row m alone (same config), bit for bit. ``out`` (contiguous,
    rows of ``gate.shape[0]``) receives it where given: its rows past x's are not written.
    """
    flat = _many(x)
    rows, width = gate.shape
    out = _output(out, x, flat.shape[0], rows, x.dtype)
    _launch("gate_up_silu_many", config, rows, flat, gate, up, out, rows, width, flat.shape[0])
    return out


def head_logits_many(
    x: torch.Tensor,
    weight: torch.Tensor,
    config: tuple[int, int, int, int] = HEAD_MANY_CONFIG,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """float32 logits ``(x @ weight.T)`` rounded to bf16 first, as ``.float()`` of F.linear gives them, for x's 1 to
    16 bf16 rows: shaped (*x.shape[:-1], vocab). Row m is ``head_logits`` of row m alone, bit for bit."""
    flat = _many(x)
    rows, width = weight.shape
    out = _output(out, x, flat.shape[0], rows, torch.float32)
    _launch("head_logits_many", config, rows, flat, weight, out, rows, width, flat.shape[0])
    return out


def qkv_many(
    x: torch.Tensor,
    attn: Any,
    config: tuple[int, int, int, int] = QKV_MANY_CONFIG,
    *,
    out: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k and v of x's 1 to 16 bf16 rows (each shaped like x, last dim its width), one launch.

    Biases join the float32 sums (Qwen2.5-VL) or there are none (Qwen3-VL). Row m of each is ``qkv``'s for
    row m alone with K unsplit (``splits`` (1, 1)), bit for bit. ``out``: (q, k, v) to write into, as for
    ``gate_up_silu_many``.
    """
    flat = _many(x)
    q_rows, width = attn.q_proj.weight.shape
    kv_rows = attn.k_proj.weight.shape[0]
    given = out or (None, None, None)
    q = _output(given[0], x, flat.shape[0], q_rows, x.dtype)
    k = _output(given[1], x, flat.shape[0], kv_rows, x.dtype)
    v = _output(given[2], x, flat.shape[0], kv_rows, x.dtype)
    block_n = config[0]
    blocks = -(-q_rows // block_n) + 2 * -(-kv_rows // block_n)
    pointers, biased = _projection_pointers(attn)
    _launch(
        "qkv_many",
        config,
        blocks * block_n,
        flat,
        *pointers,
        q,
        k,
        v,
        q_rows,
        kv_rows,
        width,
        flat.shape[0],
        HAS_BIAS=biased,
    )
    return q, k, v


# -- which one-row products equal cuBLAS ------------------------------------------------------------------


def _projection_pointers(attn: Any) -> tuple[list[torch.Tensor], bool]:
    """q's, k's and v's weight and bias, in the q/k/v kernels' argument order, and whether there are biases.

    The three have biases (Qwen2.5-VL) or none (Qwen3-VL); where none, each weight stands in for its bias
    pointer, which the kernel then never reads."""
    biased = attn.q_proj.bias is not None
    pointers = []
    for projection in (attn.q_proj, attn.k_proj, attn.v_proj):
        pointers += [projection.weight, projection.bias if biased else projection.weight]
    return pointers, biased


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
