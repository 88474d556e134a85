"""What both vision towers share: attention over segments of one length in one call, per-grid plans and graphs.

transformers' SDPA path attends each segment (a Qwen2.5-VL window, an image frame) with its own
call, behind a host sync. Segments come in few lengths, so the segments of one length are gathered
into a batch and attended by one SDPA call: each is still attended on its own with the same kernel,
so the result equals transformers' bit for bit (tests/agent/backends/local/fastpath).

``GraphedTower`` keeps a plan per grid size (what depends only on the image grid: rotary angles,
orders, segment groups) and, on CUDA, replays the tower as a CUDA graph per grid size: a screen
keeps its size, so this is captured once per screen and costs no Python afterwards.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from .decode import warm_up_on_side_stream

log = logging.getLogger(__name__)

GridKey = tuple[tuple[int, int, int], ...]


class VisionFeatures(NamedTuple):
    """A tower's output: the image tokens' embeddings, and Qwen3-VL's DeepStack features (one per level)."""

    embeds: torch.Tensor
    deepstack: tuple[torch.Tensor, ...] = ()

    def rows(self, count: int) -> list[VisionFeatures]:
        """Split into ``count`` equal parts (the screens of one batched call, in order)."""
        size = len(self.embeds) // count
        parts = [feature.split(size) for feature in (self.embeds, *self.deepstack)]
        return [VisionFeatures(embeds, tuple(deep)) for embeds, *deep in zip(*parts, strict=False)]


@dataclass(frozen=True)
class SegmentGroup:
    """Attention segments of one length: ``count`` segments of ``length`` tokens each.

    ``start`` is set when the group is one contiguous run of the sequence (no gather needed);
    otherwise ``index`` lists the tokens, segment after segment.
    """

    length: int
    count: int
    start: int | None
    index: torch.Tensor | None

    def indices(self) -> torch.Tensor:
        if self.index is None:
            raise ValueError("a contiguous segment group has no index")
        return self.index


def group_segments(lengths: list[int], device: torch.device) -> tuple[SegmentGroup, ...]:
    """Segments laid end to end, grouped by length so that each length is one batched call."""
    starts: dict[int, list[int]] = {}
    position = 0
    for length in lengths:
        starts.setdefault(length, []).append(position)
        position += length
    groups = []
    for length, firsts in starts.items():
        contiguous = all(b - a == length for a, b in pairwise(firsts))
        if contiguous:
            groups.append(SegmentGroup(length, len(firsts), firsts[0], None))
        else:
            index = torch.cat([torch.arange(s, s + length) for s in firsts]).to(device)
            groups.append(SegmentGroup(length, len(firsts), None, index))
    return tuple(groups)


def frame_groups(grid: GridKey, device: torch.device) -> tuple[SegmentGroup, ...]:
    """One segment per image frame (full attention within each frame, as transformers' cu_seqlens say)."""
    return group_segments([h * w for t, h, w in grid for _ in range(t)], device)


def grouped_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, groups: tuple[SegmentGroup, ...], scale: float
) -> torch.Tensor:
    """Attention inside each segment; q, k, v and the result are (tokens, heads, head_dim)."""
    tokens, heads, dim = q.shape

    def attend(group: SegmentGroup) -> torch.Tensor:
        span = group.count * group.length
        parts = [
            x.narrow(0, group.start, span) if group.start is not None else x.index_select(0, group.indices())
            for x in (q, k, v)
        ]
        q_, k_, v_ = (part.view(group.count, group.length, heads, dim).transpose(1, 2) for part in parts)
        result = F.scaled_dot_product_attention(q_, k_, v_, dropout_p=0.0, scale=scale, is_causal=False)
        return result.transpose(1, 2).reshape(span, heads, dim)

    if len(groups) == 1 and groups[0].start is not None:  # one run of equal segments: no scatter back
        return attend(groups[0])
    out = q.new_empty(tokens, heads, dim)
    for group in groups:
        result = attend(group)
        if group.start is not None:
            out.narrow(0, group.start, len(result)).copy_(result)
        else:
            out.index_copy_(0, group.indices(), result)
    return out


class GraphedTower:
    """A vision tower with per-grid plans and, on CUDA, a CUDA graph per grid size (subclasses: ``forward``)."""

    def __init__(self, visual: Any, cache_size: int = 2, graphs: bool = True, kernels: bool = False) -> None:
        self.visual = visual
        self.cache_size = cache_size
        self.use_graphs = graphs
        self.kernels = kernels  # fast_kernels' exact kernels (CUDA with Triton only)
        self._plans: OrderedDict[GridKey, Any] = OrderedDict()
        self._graphs: OrderedDict[GridKey, tuple[Any, torch.Tensor, VisionFeatures]] = OrderedDict()

    def build_plan(self, grid: GridKey) -> Any:
        raise NotImplementedError

    def forward(self, pixel_values: torch.Tensor, grid: GridKey, batched: bool = False) -> VisionFeatures:
        raise NotImplementedError

    def check(self, features: VisionFeatures, pixel_values: torch.Tensor, grid: GridKey) -> None:
        """Called with the warm-up's output before a capture (a tower may compare it with a slower form)."""

    def plan(self, grid: GridKey) -> Any:
        # Plans are small and a fleet asks for several (one per number of screens joining at once).
        return remember(self._plans, grid, lambda: self.build_plan(grid), 16)

    def captured(self, grid: GridKey) -> bool:
        """Whether this grid's graph is already captured (a call replays it; no capture, no eviction)."""
        return grid in self._graphs

    def device(self) -> torch.device:
        return self.visual.patch_embed.proj.weight.device

    @torch.inference_mode()
    def __call__(self, pixel_values: torch.Tensor, grid: GridKey) -> VisionFeatures:
        if not (self.use_graphs and self.device().type == "cuda"):
            return self.forward(pixel_values, grid)
        graph, pixels, features = remember(
            self._graphs, grid, lambda: self._capture(pixel_values, grid), self.cache_size
        )
        pixels.copy_(pixel_values)
        graph.replay()
        return features

    def _capture(self, pixel_values: torch.Tensor, grid: GridKey) -> tuple[Any, torch.Tensor, VisionFeatures]:
        log.info("capturing the vision tower for grid %s", grid)
        pixels = pixel_values.detach().clone()
        warm_up_on_side_stream(lambda: self.check(self.forward(pixels, grid), pixels, grid))
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            features = self.forward(pixels, grid)
        return graph, pixels, features


def remember(cache: OrderedDict, key: Any, make: Any, size: int) -> Any:
    """An LRU lookup: the cached value for ``key``, made (and the oldest dropped) when missing."""
    value = cache.pop(key, None)
    if value is None:
        value = make()
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value
