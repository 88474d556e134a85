"""The Qwen3-VL vision tower with its DeepStack features, bit for bit transformers' own, as a CUDA graph per grid.

Qwen3-VL's tower differs from Qwen2.5-VL's: 16-pixel patches, learned position embeddings
resampled (bilinear) from a square table to each image's grid and added after the patch
embedding, full attention within each frame in every block (no windows), LayerNorms and a GELU
MLP, and DeepStack: after some blocks a merger turns the hidden states into features that the
language model adds to the image positions after its first layers.

Everything that depends only on the grid (the resampled position embeddings, the rotary angles,
the frames) comes from transformers' own helpers and modules on the model's device, once per grid
size. Each block then does what transformers' block does with the same operations; the frames of
one size share one attention call (vision_common), and on CUDA the float32 rotary is fast_kernels'
exact kernel. The fleet's joins (``batched``) embed the patches as one product instead of a
convolution: aligned shapes, other roundings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from . import kernels as fast_kernels
from .model import rotate_half
from .vision_common import GraphedTower, GridKey, SegmentGroup, VisionFeatures, frame_groups, grouped_attention


@dataclass(frozen=True)
class DeepstackPlan:
    """What one grid size needs, on the model's device."""

    positions: torch.Tensor  # (tokens, hidden) the resampled learned position embeddings, in the patches' dtype
    cos: torch.Tensor  # (tokens, head_dim) float32
    sin: torch.Tensor
    frames: tuple[SegmentGroup, ...]


def build_plan(visual: Any, grid: GridKey, device: torch.device) -> DeepstackPlan:
    from transformers.vision_utils import get_vision_interpolation_indices_and_weights, get_vision_position_ids

    merge = visual.config.spatial_merge_size
    grid_thw = torch.tensor(grid, dtype=torch.long, device=device)  # generate's grids are on the model's device
    indices, weights = get_vision_interpolation_indices_and_weights(
        grid_thw,
        num_grid_per_side=visual.num_grid_per_side,
        mode=getattr(visual, "interpolation_mode", "bilinear"),
        align_corners=getattr(visual, "interpolation_align_corners", True),
        spatial_merge_size=merge,
    )
    dtype = visual.patch_embed.proj.weight.dtype
    positions = (visual.pos_embed(indices) * weights[:, :, None]).sum(1).to(dtype)
    rotary_positions = get_vision_position_ids(grid_thw, merge)
    cos, sin = visual.rotary_pos_emb(positions, rotary_positions)
    return DeepstackPlan(
        positions=positions,
        cos=cos.float().contiguous(),
        sin=sin.float().contiguous(),
        frames=frame_groups(grid, device),
    )


class DeepstackVision(GraphedTower):
    """Qwen3-VL's image embeddings and DeepStack features, equal to ``model.model.visual(...)``'s."""

    def build_plan(self, grid: GridKey) -> DeepstackPlan:
        return build_plan(self.visual, grid, self.device())

    def forward(self, pixel_values: torch.Tensor, grid: GridKey, batched: bool = False) -> VisionFeatures:
        visual = self.visual
        plan = self.plan(grid)
        x = self._embed_patches(pixel_values, batched) + plan.positions
        levels = list(visual.deepstack_visual_indexes)
        deepstack = []
        for number, block in enumerate(visual.blocks):
            x = x + self._attention(block.attn, block.norm1(x), plan)
            x = x + block.mlp(block.norm2(x))
            if number in levels:
                deepstack.append(visual.deepstack_merger_list[levels.index(number)](x))
        return VisionFeatures(visual.merger(x), tuple(deepstack))

    def _embed_patches(self, pixel_values: torch.Tensor, batched: bool) -> torch.Tensor:
        embed = self.visual.patch_embed
        pixels = pixel_values.to(embed.proj.weight.dtype)
        if not batched:
            return embed(pixels)
        # Kernel = stride = one patch: the convolution is a product with the flattened kernel (aligned, faster).
        weight = embed.proj.weight
        return F.linear(pixels, weight.view(weight.shape[0], -1), embed.proj.bias)

    def _attention(self, attn: Any, x: torch.Tensor, plan: DeepstackPlan) -> torch.Tensor:
        tokens, heads = x.shape[0], attn.num_heads
        qkv = attn.qkv(x)
        q, k, v = qkv.reshape(tokens, 3, heads, -1).permute(1, 0, 2, 3).unbind(0)
        if self.kernels:  # transformers' float32 rotary in one launch, rounded back to bf16 as it does
            q, k = fast_kernels.vision_rope(qkv, plan.cos, plan.sin, heads)
        else:
            q, k = _rope(q, plan.cos, plan.sin), _rope(k, plan.cos, plan.sin)
        out = grouped_attention(q, k, v, plan.frames, attn.scaling)
        return attn.proj(out.reshape(tokens, -1))


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # transformers' apply_rotary_pos_emb_vision: in float32, then back to the activations' dtype.
    dtype = x.dtype
    x = x.float()
    cos, sin = cos.unsqueeze(-2), sin.unsqueeze(-2)
    return ((x * cos) + (rotate_half(x) * sin)).to(dtype)
