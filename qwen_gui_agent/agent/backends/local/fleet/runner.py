"""The fleet's GPU side: the static state of S decoding rows and the one step that advances them all.

``step`` is the engine's model (fastpath/model.py) in its ``rows`` style over one new token per
row: embeddings, rotary at each row's own position, projections for all rows in one product, each
row's key and value written at its own length, attention over the static cache up to each row's
own length, the head, and the greedy choice (fastpath/greedy.py) with ``generate``'s processors.
On CUDA the rotary, the stores and the attention are attention.py's Triton kernels (split-KV
decoding), the norms one launch each, and (up to 16 rows, ``fused_products``) q/k/v, gate/up with
SiLU and the head fastpath/gemv.py's many-row kernels, one launch each (else cuBLAS, SiLU apart);
elsewhere attention is the masked SDPA kernel, the query heads of a key head asked as its query
positions (so it needs no grouped-query support). Every shape is fixed, so on CUDA the whole step
is one CUDA graph.

Which rows are in flight, and what their tokens mean, is the scheduler's (engine.py).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from ..fastpath.decode import warm_up_on_side_stream
from ..fastpath.engine import FastPath
from ..fastpath.gemv import ManyConfigs
from ..fastpath.greedy import GreedyOptions, choose, end_penalty
from ..fastpath.model import apply_rope, run_layers
from .attention import applies, decode_attention, rotate_and_store_rows

log = logging.getLogger(__name__)


class FleetSlots:
    """The static state of S decoding rows: KV caches, positions, processors' bookkeeping."""

    def __init__(self, fast: FastPath, slots: int, capacity: int) -> None:
        text, device, dtype = fast.text, fast.device, fast.dtype
        self.slots, self.capacity = slots, capacity
        shape = (slots, text.kv_heads, capacity, text.head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in text.layers]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in text.layers]
        self.token = torch.zeros(slots, 1, dtype=torch.long, device=device)
        self.length = torch.zeros(slots, dtype=torch.long, device=device)  # filled cache slots per row
        self.rope_delta = torch.zeros(slots, dtype=torch.long, device=device)
        self.active = torch.zeros(slots, dtype=torch.bool, device=device)
        self.generated = torch.zeros(slots, dtype=torch.long, device=device)
        self.min_new = torch.zeros(slots, dtype=torch.long, device=device)
        self.seen = torch.zeros(slots, fast.vocab, dtype=torch.bool, device=device)
        self.rows = torch.arange(slots, device=device)
        self.positions = torch.arange(capacity, device=device)


class FleetRunner:
    """The decode step of S rows over their slots (a CUDA graph replay on CUDA after the first call)."""

    def __init__(
        self,
        fast: FastPath,
        options: GreedyOptions,
        slots: int,
        capacity: int,
        fused_products: bool = True,
        many_configs: ManyConfigs | None = None,
    ) -> None:
        # The slots are fixed, so whether the many-row products apply is decided once, here.
        self.fast, self.text, self.options = fast, fast.text.for_rows(slots, fused_products, many_configs), options
        self.state = FleetSlots(fast, slots, capacity)
        self.eos_penalty = end_penalty(options, fast.vocab, fast.device)
        self.next_token = torch.zeros(slots, dtype=torch.long, device=fast.device)
        self.first_token = torch.zeros(slots, dtype=torch.long, device=fast.device)  # chosen at admission
        self._true = torch.ones((), dtype=torch.bool, device=fast.device)
        self._host = torch.zeros(2, slots, dtype=torch.long, pin_memory=fast.device.type == "cuda")
        self._graph: Any = None
        self._split_kv = applies(self.text.kernels, self.text.head_dim)  # else the masked SDPA kernel

    def start_row(
        self, slot: int, input_ids: torch.Tensor, length: int, rope_delta: int, first_logits: torch.Tensor
    ) -> None:
        """A row whose prompt is prefilled into ``slot``: its bookkeeping, and its first token chosen on the GPU."""
        state = self.state
        state.length[slot] = length
        state.rope_delta[slot] = rope_delta
        state.generated[slot] = 0
        state.min_new[slot] = self.options.min_new_tokens
        state.seen[slot] = False
        state.seen[slot, input_ids.view(-1)] = True
        first = self._choose(first_logits.view(1, -1), slice(slot, slot + 1)).view(())
        state.token[slot, 0] = first
        state.seen[slot, first] = True
        state.generated[slot] += 1
        self.first_token[slot] = first
        state.active[slot] = True

    def _choose(self, logits: torch.Tensor, rows: slice) -> torch.Tensor:
        state = self.state
        return choose(
            logits,
            state.seen[rows],
            state.generated[rows],
            state.min_new[rows],
            self.options.repetition_penalty,
            self.eos_penalty,
        )

    @torch.inference_mode()
    def step(self) -> tuple[list[int], list[int]]:
        """One token for every active row; then (each slot's first token, each slot's new token) on the host."""
        if self.fast.device.type == "cuda":
            if self._graph is None:
                self._capture()
            self._graph.replay()
        else:
            self._step_body()
        self._host[0].copy_(self.first_token, non_blocking=True)
        self._host[1].copy_(self.next_token, non_blocking=True)
        if self.fast.device.type == "cuda":
            torch.cuda.current_stream().synchronize()
        firsts, news = self._host.tolist()
        return firsts, news

    def _step_body(self) -> None:
        text, state = self.text, self.state
        slots = state.slots
        hidden = text.embed(state.token)
        position = (state.length + state.rope_delta).view(1, slots, 1).expand(3, slots, 1)
        cos, sin = text.rotary(hidden, position)
        mask = None if self._split_kv else self._visible_mask(hidden.dtype)

        def attend(number: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return self._attention(number, q, k, v, cos, sin, mask)

        residual, delta = run_layers(text, hidden, attend, "rows")
        chosen = self._choose(text.last_logits(residual, delta, "rows"), slice(None))
        chosen = torch.where(state.active, chosen, state.token.view(-1))
        self.next_token.copy_(chosen)
        state.token.copy_(chosen.view(slots, 1))
        state.seen.index_put_((state.rows, chosen), self._true)  # a device scalar: capturable
        state.generated.add_(state.active.long())
        state.length.add_(state.active.long())

    def _visible_mask(self, dtype: torch.dtype) -> torch.Tensor:
        """Row r attends to its filled slots and the key written now: positions 0..length[r]. Additive, made
        once per step (a boolean mask would be converted again in every layer's attention call)."""
        state = self.state
        visible = (state.positions.view(1, -1) <= state.length.view(-1, 1)).view(state.slots, 1, 1, -1)
        return torch.zeros(visible.shape, dtype=dtype, device=visible.device).masked_fill_(~visible, float("-inf"))

    def _attention(
        self,
        number: int,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """Layer ``number``'s attention for every row's new token; its key and value stored at the row's length."""
        text, state = self.text, self.state
        slots = state.slots
        scale = text.layers[number].self_attn.scaling
        keys, values = state.keys[number], state.values[number]
        if self._split_kv:  # one launch for rotary and stores, then split-KV decoding (attention.py)
            q = rotate_and_store_rows(
                q.reshape(slots, 1, -1),
                k.reshape(slots, 1, -1),
                v.reshape(slots, 1, -1),
                cos,
                sin,
                keys,
                values,
                state.rows,
                state.length,
            )
            out = decode_attention(q.view(slots, text.heads, text.head_dim), keys, values, state.length, scale)
            return out.reshape(slots, 1, -1)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        q, k = apply_rope(q, k, cos, sin)
        keys[state.rows, :, state.length] = k[:, :, 0]
        values[state.rows, :, state.length] = v[:, :, 0]
        # The query heads sharing a key head are asked as that head's query positions (same keys, same
        # mask), so no grouped-query support is needed and the masked (memory-efficient) kernel applies.
        grouped = q.reshape(slots, text.kv_heads, text.heads // text.kv_heads, text.head_dim)
        out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask, scale=scale)
        return out.reshape(slots, 1, -1)

    def _capture(self) -> None:
        state = self.state
        # The warm-up and the capture each run the step once: undo their bookkeeping (the key and value
        # they wrote sit at each row's next position, which the next real step overwrites).
        kept = (state.token, state.length, state.generated, state.seen, self.next_token)
        saved = [t.clone() for t in kept]
        warm_up_on_side_stream(self._step_body, times=2)
        for target, value in zip(kept, saved, strict=False):
            target.copy_(value)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step_body()
        for target, value in zip(kept, saved, strict=False):
            target.copy_(value)
        self._graph = graph
        log.info("captured the %d-row decode step (%d-token slots)", state.slots, state.capacity)
