"""The Qwen2.5-VL vision tower, run with one attention call per window size instead of one per window.

transformers' SDPA path loops over every attention window in Python (84 windows per
layer for a 1316x728 screenshot, 28 windowed layers): thousands of tiny kernel
launches and a host sync per layer (``cu_seqlens.tolist()``). Windows come in only a
few sizes (full ones and the ragged right and bottom edges), so we gather the windows
of one size into a batch and make one SDPA call per size. Each window is still
attended on its own with the same kernel, so the result equals transformers' own
(checked against it in tests/agent/backends/local/fastpath).

Everything that depends only on the image grid (rotary angles, window order, the
index groups) is computed once per grid size and kept in a small cache. On CUDA with
Triton, the norms, residual adds, rotary and SiLU are fast_kernels' exact kernels and the
MLP's gate/up products run on row-padded weights (GatedWeights): still bit for bit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import kernels as fast_kernels
from .model import add_rms_norm, add_rms_norm_rows, rotate_half
from .vision_common import (
    GraphedTower,
    GridKey,
    SegmentGroup,
    VisionFeatures,
    frame_groups,
    group_segments,
    grouped_attention,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisionPlan:
    """What one grid size needs, on the model's device."""

    window_order: torch.Tensor  # merge-group order that puts each window's tokens together
    restore_order: torch.Tensor  # inverse of window_order, applied after the merger
    cos: torch.Tensor  # (tokens, head_dim) float32, already in window order
    sin: torch.Tensor
    windows: tuple[SegmentGroup, ...]  # for the windowed blocks
    frames: tuple[SegmentGroup, ...]  # for the full-attention blocks (one segment per image frame)


def rotary_positions(grid: GridKey, merge: int) -> torch.Tensor:
    """(tokens, 2) row and column of every patch, in the processor's merge-block order."""
    rows = []
    for t, h, w in grid:
        hh = torch.arange(h).view(h, 1).expand(h, w)
        ww = torch.arange(w).view(1, w).expand(h, w)
        blocks = (h // merge, merge, w // merge, merge)
        hh = hh.reshape(blocks).transpose(1, 2).flatten()
        ww = ww.reshape(blocks).transpose(1, 2).flatten()
        rows.append(torch.stack([hh, ww], dim=-1).repeat(t, 1))
    return torch.cat(rows)


def window_layout(grid: GridKey, merge: int, window_size: int, patch_size: int) -> tuple[torch.Tensor, list[int]]:
    """Merge-group order that makes windows contiguous, and each window's length in tokens."""
    side = window_size // merge // patch_size  # window side in merge groups
    unit = merge * merge
    order: list[torch.Tensor] = []
    lengths: list[int] = []
    offset = 0
    for t, h, w in grid:
        gh, gw = h // merge, w // merge
        ids = torch.arange(t * gh * gw).view(t, gh, gw)
        pad_h, pad_w = -gh % side, -gw % side
        ids = F.pad(ids, (0, pad_w, 0, pad_h), value=-1)
        nh, nw = (gh + pad_h) // side, (gw + pad_w) // side
        ids = ids.view(t, nh, side, nw, side).permute(0, 1, 3, 2, 4).reshape(t * nh * nw, side * side)
        for window in ids:
            kept = window[window >= 0]
            if kept.numel():
                order.append(kept + offset)
                lengths.append(kept.numel() * unit)
        offset += t * gh * gw
    return torch.cat(order), lengths


def build_plan(visual: Any, grid: GridKey, device: torch.device) -> VisionPlan:
    config = visual.config
    merge = config.spatial_merge_size
    unit = merge * merge
    order, window_lengths = window_layout(grid, merge, config.window_size, config.patch_size)
    # Rotary angles: the same frequencies for rows and columns, concatenated, then doubled.
    inv_freq = visual.rotary_pos_emb.inv_freq.detach().float().cpu()
    angles = (rotary_positions(grid, merge)[..., None].float() * inv_freq).flatten(1)
    angles = torch.cat([angles, angles], dim=-1)
    tokens = angles.shape[0]
    # cos/sin on the model's device: CPU and GPU math libraries may round differently.
    angles = angles.view(tokens // unit, unit, -1)[order].reshape(tokens, -1).to(device)
    return VisionPlan(
        window_order=order.to(device),
        restore_order=torch.argsort(order).to(device),
        cos=angles.cos(),
        sin=angles.sin(),
        windows=group_segments(window_lengths, device),
        frames=frame_groups(grid, device),
    )


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # In float32, as transformers does, then back to the activations' dtype.
    dtype = x.dtype
    x = x.float()
    return ((x * cos) + (rotate_half(x) * sin)).to(dtype)


def _attention(
    attn: Any, x: torch.Tensor, plan: VisionPlan, groups: tuple[SegmentGroup, ...], kernels: bool
) -> torch.Tensor:
    tokens = x.shape[0]
    heads = attn.num_heads
    qkv = attn.qkv(x)
    q, k, v = qkv.reshape(tokens, 3, heads, -1).permute(1, 0, 2, 3).unbind(0)
    if kernels:  # one launch instead of ~14 passes over float32 copies (~8 ms of the tower on an H100)
        q, k = fast_kernels.vision_rope(qkv, plan.cos, plan.sin, heads)
    else:
        cos, sin = plan.cos.unsqueeze(-2), plan.sin.unsqueeze(-2)
        q, k = _rope(q, cos, sin), _rope(k, cos, sin)
    scale = getattr(attn, "scaling", q.shape[-1] ** -0.5)
    out = grouped_attention(q, k, v, groups, scale)
    return attn.proj(out.reshape(tokens, -1))


class FastVision(GraphedTower):
    """Qwen2.5-VL's image embeddings from pixel patches, equal to ``model.model.visual(...)``'s pooled output.

    On CUDA the tower is captured as a CUDA graph per grid size (vision_common.GraphedTower): the
    ~1,500 launches of the 32 blocks then cost no Python.
    """

    def __init__(self, visual: Any, cache_size: int = 2, graphs: bool = True, kernels: bool = False) -> None:
        super().__init__(visual, cache_size, graphs, kernels)
        silu = kernels and getattr(visual.config, "hidden_act", None) == "silu"
        # The MLPs' gate and up weights moved into row-padded storage (GatedWeights): None without kernels.
        self._mlp_weights = [GatedWeights.padding(block.mlp) for block in visual.blocks] if silu else None
        self._down: dict[int, torch.Tensor] = {}  # down projections with zero columns to the padded width (batched)

    def build_plan(self, grid: GridKey) -> VisionPlan:
        return build_plan(self.visual, grid, self.device())

    def check(self, features: VisionFeatures, pixel_values: torch.Tensor, grid: GridKey) -> None:
        # The warm-up's embeddings serve the padding check (which then warms the unpadded path).
        self.check_padding(features.embeds, pixel_values, grid)

    def check_padding(self, embeddings: torch.Tensor, pixel_values: torch.Tensor, grid: GridKey) -> bool:
        """Were ``embeddings`` (``forward``'s, padded) bit for bit the unpadded products'? If not, stop padding.

        cuBLAS picks its kernel by GPU, library and shape (the token count included), and only a
        kernel that does not split K keeps the bits; checked on an H100, so checked here for every
        screen size before its graph is captured, against the unpadded products.
        """
        if self._mlp_weights is None:
            return False
        if torch.equal(embeddings, self.forward(pixel_values, grid, padded=False).embeds):
            return True
        log.warning(
            "padded vision MLP products differ from the unpadded ones for grid %s on this GPU: using the unpadded ones",
            grid,
        )
        self._mlp_weights = None
        return False

    def forward(
        self, pixel_values: torch.Tensor, grid: GridKey, batched: bool = False, padded: bool = True
    ) -> VisionFeatures:
        """The tower's output; ``batched`` (many screens at once, the fleet's joins) trades the lone path's bits
        for aligned shapes: the patch embedding as one product, the MLP's down projection on padded width."""
        visual = self.visual
        plan = self.plan(grid)
        unit = visual.config.spatial_merge_size**2
        x = self._embed_patches(pixel_values, batched)
        tokens = x.shape[0]
        x = x.view(tokens // unit, unit, -1)[plan.window_order].reshape(tokens, -1)
        full_blocks = set(visual.config.fullatt_block_indexes)
        blocks = visual.blocks
        # Each block adds attention, then its MLP, to the residual stream; the add and the next norm share
        # a kernel (add_rms_norm), so the stream is carried as (hidden, normed).
        norm = add_rms_norm_rows if batched else add_rms_norm  # batched: one launch a norm, per-row sums
        hidden, normed = norm(blocks[0].norm1, x, None, self.kernels)
        for number, block in enumerate(blocks):
            groups = plan.frames if number in full_blocks else plan.windows
            out = _attention(block.attn, normed, plan, groups, self.kernels)
            hidden, normed = norm(block.norm2, hidden, out, self.kernels)
            out = self._mlp(number, block.mlp, normed, padded, batched)
            if number + 1 < len(blocks):
                hidden, normed = norm(blocks[number + 1].norm1, hidden, out, self.kernels)
        return VisionFeatures(visual.merger(hidden + out)[plan.restore_order])

    def _embed_patches(self, pixel_values: torch.Tensor, batched: bool) -> torch.Tensor:
        embed = self.visual.patch_embed
        pixels = pixel_values.to(embed.proj.weight.dtype)
        if not batched:
            return embed(pixels)
        # Its 3-D convolution has kernel = stride = one patch: a product with the flattened kernel (cuDNN's
        # convolution took 4.6 ms for eight screens on an H100, an sm80 sgemm).
        return F.linear(pixels, embed.proj.weight.view(embed.proj.weight.shape[0], -1), embed.proj.bias)

    def _mlp(self, number: int, mlp: Any, x: torch.Tensor, padded: bool, batched: bool = False) -> torch.Tensor:
        if self._mlp_weights is None:
            return mlp(x)
        if not padded:
            return mlp.down_proj(fast_kernels.silu_mul(mlp.gate_proj(x), mlp.up_proj(x)))
        weights = self._mlp_weights[number]
        if batched:  # the padded columns are silu(0) * 0 = 0, and the padded down weights' columns 0 too
            wide = fast_kernels.silu_mul(
                F.linear(x, weights.gate, weights.gate_bias), F.linear(x, weights.up, weights.up_bias)
            )
            return F.linear(wide, self._padded_down(number, weights.gate.shape[0]), mlp.down_proj.bias)
        gate = F.linear(x, weights.gate, weights.gate_bias)[:, : weights.width]
        up = F.linear(x, weights.up, weights.up_bias)[:, : weights.width]
        return mlp.down_proj(fast_kernels.silu_mul(gate, up))

    def _padded_down(self, number: int, width: int) -> torch.Tensor:
        """Block ``number``'s down projection with zero columns up to ``width``, made on first use.

        Its 3,420-long rows are not 16-byte aligned, so cuBLAS runs the product on a slow sm80 kernel
        (1.5 ms of eight screens' 180 on an H100); a copy, as the lone path's bits need the original.
        """
        if number not in self._down:
            weight = self.visual.blocks[number].mlp.down_proj.weight
            self._down[number] = F.pad(weight, (0, width - weight.shape[1]))
        return self._down[number]


# bf16 values per 16 bytes: Hopper's fast cuBLAS kernels need rows aligned to it.
_ROW_ALIGN = 8


@dataclass(frozen=True)
class GatedWeights:
    """A gated MLP's gate and up projections with their output rows padded to a multiple of 8.

    The vision MLP is 3,420 wide: a 6,840-byte row that is not 16-byte aligned, so cuBLAS runs
    its products on a slow sm80 kernel (20 of the tower's ~40 ms on an H100). With zero rows
    added, the product is 3x faster and its first 3,420 columns are bit for bit the same
    (benchmarks/gpu_probe_padding.py; the down projection's padded K is not, so it stays).
    """

    gate: torch.Tensor
    gate_bias: torch.Tensor | None
    up: torch.Tensor
    up_bias: torch.Tensor | None
    width: int  # the real output width

    @classmethod
    def padding(cls, mlp: Any) -> GatedWeights:
        gate, gate_bias = _pad_rows(mlp.gate_proj)
        up, up_bias = _pad_rows(mlp.up_proj)
        return cls(gate, gate_bias, up, up_bias, mlp.gate_proj.out_features)


@torch.no_grad()
def _pad_rows(linear: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move ``linear``'s weight and bias into storage with zero rows up to a multiple of ``_ROW_ALIGN``.

    The parameters become views of the first rows of the padded tensors: the same values, shape and
    (contiguous) layout as before, so the module and plain ``generate`` compute exactly what they
    did, and no second copy of the weights is kept. Returns the padded weight and bias.
    """
    rows = linear.weight.shape[0]
    padded_rows = -(-rows // _ROW_ALIGN) * _ROW_ALIGN
    if padded_rows == rows:
        return linear.weight, linear.bias

    def pad(param: torch.Tensor) -> torch.Tensor:
        wider = param.new_zeros((padded_rows, *param.shape[1:]))
        wider[:rows] = param
        param.data = wider[:rows]
        return wider

    return pad(linear.weight), None if linear.bias is None else pad(linear.bias)
