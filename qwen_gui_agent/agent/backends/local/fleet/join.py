"""Conversations joining the fleet together: one vision call per screen size, a shared prompt prefix, one prefill.

Joining used to cost about what a lone step's first token costs, once per row (82 ms for the 7B
on an H100, two thirds of a batch of eight's time). Rows that join at the same moment now share
that work:

- **vision**: the screenshots of one size go through the tower as one call (its plan already
  handles several images: windows and full-attention frames are per image), so its products run
  eight times taller;
- **shared prefix**: every step of every device starts with the same system prompt and tool
  schema (361 of the benchmark's 1,640 tokens). The keys and values of the longest prefix the
  joining rows share, up to their first image, are computed once and kept; the next rows that
  start with it (or with a part of it, to which it is then cut) skip it. Text before the first image sits at positions 0..n-1 on all three rotary
  axes, so its keys and values do not depend on what follows;
- **one prefill**: the rest of every row, right-padded to the longest, goes through the layers
  together (causal attention over the prefix and its own tokens, so padding is never attended),
  and each layer's keys and values are written straight into the rows' slots.

The arithmetic is transformers' (the same modules and the same order of operations per token), but
the products run on other shapes than a lone prefill's, so near-tied greedy choices can differ from
``generate``, as the fleet's decode step already may (benchmarks/bench_fleet.py measures it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..fastpath.engine import FastPath, _grids
from ..fastpath.inputs import rope_positions
from ..fastpath.model import Deepstack, TextModel, apply_rope, run_layers
from ..fastpath.vision_common import VisionFeatures
from .attention import applies, grouped_query_prefill, rotate_and_store_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JoiningRow:
    """One conversation about to join: its tokens on the host and the device, its images, its rotary positions."""

    ids: list[int]
    input_ids: torch.Tensor  # (1, L) on the model's device
    pixel_values: torch.Tensor | None
    grids: tuple[tuple[int, int, int], ...]
    positions: torch.Tensor  # (3, 1, L) on the host
    rope_delta: int  # what later tokens add to their index for their rotary position
    slot: int

    @classmethod
    def of(cls, inputs: Mapping[str, Any], slot: int, config: Any, device: torch.device) -> JoiningRow:
        """The row for one prepared conversation (FastPath.prepare's input_ids, pixel_values, image_grid_thw)."""
        input_ids = inputs["input_ids"].to(device)
        ids = input_ids[0].tolist()
        grids = tuple(_grids(inputs.get("image_grid_thw")))
        positions, rope_delta = rope_positions(
            ids, config.image_token_id, list(grids), config.vision_config.spatial_merge_size
        )
        return cls(
            ids=ids,
            input_ids=input_ids,
            pixel_values=inputs.get("pixel_values"),
            grids=grids,
            positions=positions,
            rope_delta=rope_delta,
            slot=slot,
        )


@dataclass(frozen=True)
class SharedPrefix:
    """Keys and values of a prompt prefix that many rows start with, per layer (kv_heads, length, head_dim)."""

    tokens: tuple[int, ...]
    keys: tuple[torch.Tensor, ...]
    values: tuple[torch.Tensor, ...]

    def cut(self, length: int) -> SharedPrefix:
        """Its first ``length`` tokens (their keys and values do not depend on what follows)."""
        return SharedPrefix(
            self.tokens[:length],
            tuple(k[:, :length].clone() for k in self.keys),
            tuple(v[:, :length].clone() for v in self.values),
        )


@dataclass(frozen=True)
class JoinSettings:
    """How rows join together."""

    min_prefix_tokens: int = 64  # a shorter shared prefix is not worth a separate pass
    max_tokens: int = 16384  # padded tokens per prefill pass (bounds the activations' memory)
    max_vision_patches: int = 65536  # patches per vision call (thirteen 1316x728 screens; bounds its memory)


def shared_length(rows: Sequence[Sequence[int]], image_token_id: int) -> int:
    """Tokens all rows begin with, before any row's first image and leaving each row at least one token."""
    shortest = min(len(ids) for ids in rows)
    limit = shortest - 1
    for ids in rows:
        limit = min(limit, ids.index(image_token_id) if image_token_id in ids else limit)
    first = rows[0]
    for length in range(max(limit, 0)):
        if any(ids[length] != first[length] for ids in rows[1:]):
            return length
    return max(limit, 0)


class FleetJoin:
    """Vision, prefix and prefill for rows joining together; keeps the last shared prefix."""

    def __init__(
        self,
        fast: FastPath,
        keys: Sequence[torch.Tensor],
        values: Sequence[torch.Tensor],
        settings: JoinSettings | None = None,
    ) -> None:
        self.fast = fast
        self.text: TextModel = fast.text
        self.keys, self.values = keys, values  # the fleet's slot caches, per layer (slots, kv_heads, capacity, dim)
        self.settings = settings or JoinSettings()
        self.prefix: SharedPrefix | None = None
        self.prefix_passes = 0  # how many times a prefix was computed (tests and logs read it)

    @torch.inference_mode()
    def join(self, rows: Sequence[JoiningRow]) -> torch.Tensor:
        """Prefill ``rows`` into their slots; float32 logits of each row's last prompt token, (rows, vocab)."""
        embeds = self._embeddings(rows)
        prefix = self._prefix_for([row.ids for row in rows])
        start = len(prefix.tokens) if prefix else 0
        logits = []
        for chunk in self._chunks(rows, start):
            logits.append(self._prefill([rows[i] for i in chunk], [embeds[i] for i in chunk], prefix))
        return torch.cat(logits)

    # -- vision ---------------------------------------------------------------------------------------

    def _embeddings(self, rows: Sequence[JoiningRow]) -> list[tuple[torch.Tensor, tuple[torch.Tensor, ...]]]:
        """Each row's input embeddings (L, hidden), its image tokens replaced by the vision tower's output, and its
        DeepStack features (Qwen3-VL; one (image tokens, hidden) tensor per level)."""
        fast = self.fast
        images: dict[int, VisionFeatures] = {}
        for grid, same_size in _by_grid(rows).items():
            per_row = sum(t * h * w for t, h, w in grid)
            step = max(1, self.settings.max_vision_patches // per_row)
            for members in (same_size[at : at + step] for at in range(0, len(same_size), step)):
                pixels = torch.cat([_grouped_pixels(rows[i]).to(fast.device) for i in members])
                if len(members) == 1 and fast.vision.captured(grid):
                    # Its captured graph; copied, as the graph's next replay (this grid's next chunk) overwrites it.
                    graphed = fast.vision(pixels, grid)
                    out = VisionFeatures(graphed.embeds.clone(), tuple(t.clone() for t in graphed.deepstack))
                else:  # no capture here: a fleet of many screen sizes would evict and capture graphs in turn
                    out = fast.vision.forward(pixels, grid * len(members), batched=True)
                images.update(zip(members, out.rows(len(members)), strict=False))
        embeds = []
        for index, row in enumerate(rows):
            embed = self.text.embed(row.input_ids[0])
            deepstack: tuple[torch.Tensor, ...] = ()
            if index in images:
                mask = (row.input_ids[0] == fast.config.image_token_id).unsqueeze(-1).expand_as(embed)
                embed = embed.masked_scatter(mask, images[index].embeds.to(embed.dtype))
                deepstack = images[index].deepstack
            embeds.append((embed, deepstack))
        return embeds

    # -- the shared prefix ----------------------------------------------------------------------------

    def _prefix_for(self, rows: Sequence[list[int]]) -> SharedPrefix | None:
        """The prefix for these rows: the kept one, or the part of it they start with, or a new one.

        A row that joins alone shares everything before its image with itself (its task text too);
        the next row, from another device, shares only the system prompt with it: the kept prefix is
        then cut to that part rather than replaced, so rows joining one by one keep reusing it.
        """
        minimum = max(1, self.settings.min_prefix_tokens)
        common = shared_length(rows, self.fast.config.image_token_id)
        kept = self.prefix
        if kept is not None:
            agreed = _agreement(kept.tokens, rows[0][:common])
            if agreed == len(kept.tokens):
                return kept
            if agreed >= minimum:
                self.prefix = kept.cut(agreed)
                return self.prefix
        if common < minimum:
            return None
        self.prefix = self._compute_prefix(tuple(rows[0][:common]))
        self.prefix_passes += 1
        log.info("kept the keys and values of a %d-token prompt prefix that the joining rows share", common)
        return self.prefix

    def _compute_prefix(self, tokens: tuple[int, ...]) -> SharedPrefix:
        device, text = self.fast.device, self.text
        ids = torch.tensor(tokens, device=device)
        positions = torch.arange(len(tokens), device=device).view(1, 1, -1).expand(3, 1, -1)
        shape = (1, text.kv_heads, len(tokens), text.head_dim)
        keys = [torch.empty(shape, device=device, dtype=self.fast.dtype) for _ in text.layers]
        values = [torch.empty_like(t) for t in keys]
        self._layers(text.embed(ids).unsqueeze(0), positions, _Cache.of(keys, values, [0], None))
        return SharedPrefix(tokens, tuple(t[0] for t in keys), tuple(t[0] for t in values))

    # -- the prefill of the rest ----------------------------------------------------------------------

    def _chunks(self, rows: Sequence[JoiningRow], start: int) -> list[list[int]]:
        """Row indices in passes of at most ``max_tokens`` padded tokens (always at least one row a pass)."""
        chunks: list[list[int]] = [[]]
        longest = 0
        for index, row in enumerate(rows):
            length = len(row.ids) - start
            if chunks[-1] and max(longest, length) * (len(chunks[-1]) + 1) > self.settings.max_tokens:
                chunks.append([])
                longest = 0
            chunks[-1].append(index)
            longest = max(longest, length)
        return chunks

    def _prefill(
        self,
        rows: Sequence[JoiningRow],
        embeds: Sequence[tuple[torch.Tensor, tuple[torch.Tensor, ...]]],
        prefix: SharedPrefix | None,
    ) -> torch.Tensor:
        start = len(prefix.tokens) if prefix else 0
        lengths = [len(row.ids) - start for row in rows]
        width = max(lengths)
        hidden = embeds[0][0].new_zeros(len(rows), width, embeds[0][0].shape[-1])
        # Padding takes the row's last position: any value would do, as no real token attends to it.
        positions = torch.empty(3, len(rows), width, dtype=torch.long)
        for index, (row, (embed, _), length) in enumerate(zip(rows, embeds, lengths, strict=False)):
            hidden[index, :length] = embed[start:]
            own = row.positions[:, 0, start:]
            positions[:, index, :length] = own
            positions[:, index, length:] = own[:, -1:]
        cache = _Cache.of(self.keys, self.values, [row.slot for row in rows], prefix)
        residual, delta = self._layers(
            hidden, positions.to(self.fast.device), cache, self._deepstack(rows, embeds, start, width)
        )
        return self.text.last_logits(residual, delta, "rows", last=torch.tensor(lengths, device=hidden.device) - 1)

    def _deepstack(
        self,
        rows: Sequence[JoiningRow],
        embeds: Sequence[tuple[torch.Tensor, tuple[torch.Tensor, ...]]],
        start: int,
        width: int,
    ) -> Deepstack | None:
        """Qwen3-VL's DeepStack for the padded rows: their image positions after ``start``, features in row order."""
        levels = [deep for _, deep in embeds if deep]
        if not levels:
            return None
        image = self.fast.config.image_token_id
        mask = torch.zeros(len(rows), width, dtype=torch.bool, device=self.fast.device)
        for index, row in enumerate(rows):
            own = row.input_ids[0, start:] == image
            mask[index, : own.shape[0]] = own
        return Deepstack(mask=mask, features=[torch.cat(level) for level in zip(*levels, strict=False)])

    def _layers(
        self, hidden: torch.Tensor, positions: torch.Tensor, cache: _Cache, deepstack: Deepstack | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The model's layers (fastpath/model.py, ``rows`` style) over (rows, width) tokens that follow
        ``cache.prefix``; each layer's keys and values go into ``cache`` (padding's too: past each row's length,
        where the decode step masks them and overwrites them). Returns the residual stream and the last MLP's
        output not yet added to it."""
        text = self.text
        rows, width, _ = hidden.shape
        cos, sin = text.rotary(hidden, positions)
        before = len(cache.prefix.tokens) if cache.prefix else 0
        starts = torch.full((rows,), before, dtype=torch.long, device=hidden.device)

        def attend(number: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            keys, values = cache.keys[number], cache.values[number]
            if cache.prefix is not None:
                keys[cache.slots, :, :before] = cache.prefix.keys[number]
                values[cache.slots, :, :before] = cache.prefix.values[number]
            if applies(text.kernels, text.head_dim):  # rotary and the stores in one launch
                q = rotate_and_store_rows(
                    q.reshape(rows, width, -1),
                    k.reshape(rows, width, -1),
                    v.reshape(rows, width, -1),
                    cos,
                    sin,
                    keys,
                    values,
                    cache.slots,
                    starts,
                )
                q = q.view(rows, width, -1, text.head_dim).transpose(1, 2)
            else:
                q, k, v = (t.transpose(1, 2) for t in (q, k, v))
                q, k = apply_rope(q, k, cos, sin)
                keys[cache.slots, :, before : before + width] = k
                values[cache.slots, :, before : before + width] = v
            out = grouped_query_prefill(
                q,
                cache.rows(keys, before + width),
                cache.rows(values, before + width),
                text.layers[number].self_attn.scaling,
            )
            return out.transpose(1, 2).reshape(rows, width, -1)

        return run_layers(text, hidden, attend, "rows", deepstack)


@dataclass(frozen=True)
class _Cache:
    """Where a prefill pass keeps its keys and values: cache rows ``slots`` of per-layer
    (rows, kv_heads, capacity, dim) tensors, after the ``prefix`` (copied in front)."""

    keys: Sequence[torch.Tensor]
    values: Sequence[torch.Tensor]
    slot_list: tuple[int, ...]
    prefix: SharedPrefix | None
    slots: torch.Tensor  # slot_list on the device

    @classmethod
    def of(
        cls,
        keys: Sequence[torch.Tensor],
        values: Sequence[torch.Tensor],
        slots: Sequence[int],
        prefix: SharedPrefix | None,
    ) -> _Cache:
        device = keys[0].device
        return cls(keys, values, tuple(slots), prefix, torch.tensor(list(slots), dtype=torch.long, device=device))

    def rows(self, cache: torch.Tensor, length: int) -> torch.Tensor:
        """The first ``length`` positions of our cache rows: a view when they are consecutive, else a copy."""
        first, count = self.slot_list[0], len(self.slot_list)
        if self.slot_list == tuple(range(first, first + count)):
            return cache[first : first + count, :, :length]
        return cache[self.slots, :, :length]


def _agreement(first: Sequence[int], second: Sequence[int]) -> int:
    """How many leading tokens two sequences share."""
    for index, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return index
    return min(len(first), len(second))


def _by_grid(rows: Sequence[JoiningRow]) -> dict[tuple[tuple[int, int, int], ...], list[int]]:
    """Rows with images, grouped by their images' grids (one vision call per group)."""
    groups: dict[tuple[tuple[int, int, int], ...], list[int]] = {}
    for index, row in enumerate(rows):
        if row.pixel_values is not None and row.grids:
            groups.setdefault(row.grids, []).append(index)
    return groups


def _grouped_pixels(row: JoiningRow) -> torch.Tensor:
    """The pixel values of a row ``_by_grid`` grouped."""
    assert row.pixel_values is not None  # _by_grid groups only rows that have pixel values
    return row.pixel_values
