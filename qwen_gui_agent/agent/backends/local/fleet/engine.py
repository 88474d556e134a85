"""Many conversations decoding at once on one model: slots in a shared static KV cache, one step for all.

A suite's devices each wait for the next step of their own conversation. Decoding one token
reads every weight once whatever the number of rows, so S rows decoded together cost about
what one costs. Here:

- conversations join free slots between decode steps, together when they arrive together
  (join.py: one vision call per screen size, the keys and values of the prompt prefix they
  share computed once and kept, one prefill of the rest written straight into the slots); each
  first token is chosen on the GPU and read with the next step's tokens (no host sync);
- ``step`` advances every slot by one token: embeddings, rotary at each row's own position,
  projections for all rows in one product, each row's key and value written at its own
  length, attention over the static cache up to each row's own length, the head, and the greedy
  choice with ``generate``'s processors (repetition penalty, EOS held back until
  ``min_new_tokens``). On CUDA the rotary, the stores and the attention are attention.py's
  Triton kernels (split-KV decoding) and the norms and SiLU one launch each; elsewhere attention
  is the masked SDPA kernel, the query heads of a key head asked as its query positions (so it
  needs no grouped-query support). Every shape is fixed, so on CUDA the whole step is one CUDA
  graph;
- a row that chose an end token or reached its limit leaves (``finished``); its slot is free
  for the next conversation, while the others go on.

Rounding is not the single-stream path's bit for bit (the products run on other shapes, the prefix
is computed apart, attention sums in another order), so near-tied tokens can differ from ``generate``,
as they do in plain batched ``generate``; benchmarks/bench_fleet.py reports the agreement and the
logit gap at each first difference (docs/performance.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from ..fastpath.decode import add_rms_norm_rows, apply_rope, warm_up_on_side_stream
from ..fastpath.engine import FastPath, GreedyOptions
from .attention import applies, decode_attention, rotate_and_store_rows
from .join import FleetJoin, JoiningRow, JoinSettings

log = logging.getLogger(__name__)


@dataclass
class _Row:
    """A conversation in a slot, as the host tracks it."""

    limit: int
    tokens: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)
    first_token_ms: float = 0.0
    tag: Any = None  # the caller's handle (a future, a request index)


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


class FleetEngine:
    """Continuous batching over ``slots`` rows of one model (see the module's docstring)."""

    def __init__(self, fast: FastPath, options: GreedyOptions, *, slots: int = 8, capacity: int = 4096,
                 join: JoinSettings | None = None) -> None:
        self.fast = fast
        self.text = fast.text
        self.options = options
        self.state = FleetSlots(fast, slots, capacity)
        self.eos_penalty = torch.zeros(fast.vocab, dtype=torch.float32, device=fast.device)
        if options.eos_token_ids:
            self.eos_penalty[list(options.eos_token_ids)] = float("-inf")
        self.stops = set(options.eos_token_ids)
        self.rows: dict[int, _Row] = {}
        self.next_token = torch.zeros(slots, dtype=torch.long, device=fast.device)
        self._graph: Any = None
        self._true = torch.ones((), dtype=torch.bool, device=fast.device)
        self.first_token = torch.zeros(slots, dtype=torch.long, device=fast.device)  # chosen at admission
        pinned = fast.device.type == "cuda"
        self._host = torch.zeros(2, slots, dtype=torch.long, pin_memory=pinned)  # first tokens, then new tokens
        self.joiner = FleetJoin(fast, self.state.keys, self.state.values, join or JoinSettings())
        self._split_kv = applies(self.text.kernels, self.text.head_dim)  # else the masked SDPA kernel

    # -- joining ------------------------------------------------------------------------------------

    @property
    def free_slots(self) -> int:
        return self.state.slots - len(self.rows)

    def fits(self, prompt_tokens: int, max_new_tokens: int) -> bool:
        """Whether a conversation of ``prompt_tokens`` answering up to ``max_new_tokens`` fits a slot."""
        return prompt_tokens + max_new_tokens + 1 <= self.state.capacity

    def admit(self, inputs: dict[str, Any], max_new_tokens: int, tag: Any = None) -> int:
        """Prefill one conversation (input_ids of one row, its pixels and grids) into a free slot; the slot."""
        return self.admit_many([(inputs, max_new_tokens, tag)])[0]

    @torch.inference_mode()
    def admit_many(self, requests: Sequence[tuple[dict[str, Any], int, Any]]) -> list[int]:
        """Prefill conversations ((inputs, max_new_tokens, tag) each) together into free slots; their slots.

        Their vision, shared prompt prefix and prefill are batched (join.py). Every request is
        checked before any work starts: one that does not fit raises ValueError and none joins.
        """
        state = self.state
        if not requests:
            return []
        if len(requests) > self.free_slots:
            raise ValueError(f"{len(requests)} conversations cannot join: {self.free_slots} free slots")
        started = time.perf_counter()
        joining: list[JoiningRow] = []
        free = (index for index in range(state.slots) if index not in self.rows)
        for inputs, limit, _ in requests:
            row = JoiningRow.of(inputs, next(free), self.fast.config, self.fast.device)
            if not self.fits(len(row.ids), limit):
                raise ValueError(f"{len(row.ids)} prompt tokens + {limit} new do not fit the {state.capacity}-token "
                                 "slots; start the engine with a larger capacity")
            joining.append(row)
        first_logits = self.joiner.join(joining)
        for row, logits, (_, limit, tag) in zip(joining, first_logits, requests):
            self._start_row(row, logits, _Row(limit=limit, prompt_tokens=len(row.ids), started=started, tag=tag))
        # No host sync here: the first tokens are read with the next step's tokens, so the host goes on
        # preparing while the GPU works.
        return [row.slot for row in joining]

    def _start_row(self, row: JoiningRow, first_logits: torch.Tensor, host: _Row) -> None:
        state, slot = self.state, row.slot
        state.length[slot] = len(row.ids)
        state.rope_delta[slot] = row.rope_delta
        state.generated[slot] = 0
        state.min_new[slot] = self.options.min_new_tokens
        state.seen[slot] = False
        state.seen[slot, row.input_ids[0]] = True
        first = self._choose(first_logits.view(1, -1), state.seen[slot:slot + 1], state.generated[slot:slot + 1],
                             state.min_new[slot:slot + 1])
        self._record(first, slot)
        self.first_token[slot] = first.view(())
        state.active[slot] = True
        self.rows[slot] = host

    def _record(self, token: torch.Tensor, slot: int) -> None:
        state = self.state
        state.token[slot, 0] = token.view(())
        state.seen[slot, token.view(())] = True
        state.generated[slot] += 1

    def _choose(self, logits: torch.Tensor, seen: torch.Tensor, generated: torch.Tensor,
                min_new: torch.Tensor) -> torch.Tensor:
        """generate's greedy choice per row: repetition penalty, then EOS held back before min_new_tokens."""
        penalty = self.options.repetition_penalty
        if penalty != 1.0:
            penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
            logits = torch.where(seen, penalized, logits)
        held = (generated < min_new).view(-1, 1)
        logits = torch.where(held, logits + self.eos_penalty, logits)
        return torch.argmax(logits, dim=-1)

    # -- the shared step ----------------------------------------------------------------------------

    def _step_body(self) -> None:
        text, state = self.text, self.state
        slots = state.slots
        hidden = text.embed(state.token)
        position = (state.length + state.rope_delta).view(1, slots, 1).expand(3, slots, 1)
        cos, sin = text.rotary(hidden, position)
        mask = None if self._split_kv else self._visible_mask(hidden.dtype)
        residual, delta = hidden, None
        for number, layer in enumerate(text.layers):
            attn = layer.self_attn
            # The residual add and the norm after it: one launch for all rows on CUDA, eager elsewhere.
            residual, normed = add_rms_norm_rows(layer.input_layernorm, residual, delta, text.kernels)
            out = self._attention(number, attn, normed, cos, sin, mask)
            out = out.reshape(slots, 1, text.heads * text.head_dim)
            residual, normed = add_rms_norm_rows(layer.post_attention_layernorm, residual, attn.o_proj(out),
                                            text.kernels)
            delta = text.mlp_rows(layer.mlp, normed)
        _, normed = add_rms_norm_rows(text.norm, residual, delta, text.kernels)
        logits = text.head(normed)[:, -1, :].float()
        chosen = self._choose(logits, state.seen, state.generated, state.min_new)
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

    def _attention(self, number: int, attn: Any, normed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                   mask: torch.Tensor | None) -> torch.Tensor:
        """Layer ``number``'s attention for every row's new token; its key and value stored at the row's length."""
        text, state = self.text, self.state
        slots = state.slots
        q, k, v = attn.q_proj(normed), attn.k_proj(normed), attn.v_proj(normed)
        keys, values = state.keys[number], state.values[number]
        if self._split_kv:  # one launch for rotary and stores, then split-KV decoding (attention.py)
            q = rotate_and_store_rows(q, k, v, cos, sin, keys, values, state.rows, state.length)
            q = q.view(slots, text.heads, text.head_dim)
            return decode_attention(q, keys, values, state.length, attn.scaling)
        q, k, v = (t.view(slots, 1, -1, text.head_dim).transpose(1, 2) for t in (q, k, v))
        q, k = apply_rope(q, k, cos, sin)
        keys[state.rows, :, state.length] = k[:, :, 0]
        values[state.rows, :, state.length] = v[:, :, 0]
        # The query heads sharing a key head are asked as that head's query positions (same keys, same
        # mask), so no grouped-query support is needed and the masked (memory-efficient) kernel applies.
        grouped = q.reshape(slots, text.kv_heads, text.heads // text.kv_heads, text.head_dim)
        return F.scaled_dot_product_attention(grouped, keys, values, attn_mask=mask, scale=attn.scaling)

    @torch.inference_mode()
    def step(self) -> None:
        """One token for every active row (a CUDA graph replay after the first call on CUDA)."""
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
        for slot, row in self.rows.items():
            if not row.tokens:
                row.tokens.append(firsts[slot])
                row.first_token_ms = (time.perf_counter() - row.started) * 1000
            row.tokens.append(news[slot])

    def _capture(self) -> None:
        state = self.state
        # The warm-up and the capture each run the step once: undo their bookkeeping (the key and value
        # they wrote sit at each row's next position, which the next real step overwrites).
        saved = [t.clone() for t in (state.token, state.length, state.generated, state.seen, self.next_token)]
        warm_up_on_side_stream(self._step_body, times=2)
        for target, value in zip((state.token, state.length, state.generated, state.seen, self.next_token), saved):
            target.copy_(value)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._step_body()
        for target, value in zip((state.token, state.length, state.generated, state.seen, self.next_token), saved):
            target.copy_(value)
        self._graph = graph
        log.info("captured the %d-row decode step (%d-token slots)", state.slots, state.capacity)

    # -- leaving ------------------------------------------------------------------------------------

    def finished(self) -> list[tuple[Any, list[int], dict[str, float]]]:
        """Rows done (end token or limit): their tags, tokens and timings; their slots become free."""
        done = []
        for slot, row in list(self.rows.items()):
            answer = self._answer(row)
            if answer is not None:
                total = (time.perf_counter() - row.started) * 1000
                timings = {"first_token": row.first_token_ms, "decode": total - row.first_token_ms, "total": total}
                done.append((row.tag, answer, timings))
                self.state.active[slot] = False
                del self.rows[slot]
        return done

    def _answer(self, row: _Row) -> list[int] | None:
        """The row's answer once it is complete: up to its first end token (choose_token holds ends back
        until min_new_tokens) or its limit. A row may have run a step past its end (its first token is
        read with the next step's): those tokens are dropped here."""
        for index, token in enumerate(row.tokens[: row.limit]):
            if token in self.stops:
                return row.tokens[: index + 1]
        return row.tokens[: row.limit] if len(row.tokens) >= row.limit else None

    def run_all(self, requests: Sequence[tuple[dict[str, Any], int]]) -> list[list[int]]:
        """Every request to the end, joining as slots free up (benchmarks and tests); tokens in request order."""
        waiting = list(enumerate(requests))
        results: dict[int, list[int]] = {}
        while waiting or self.rows:
            if waiting and self.free_slots:
                joining, waiting = waiting[:self.free_slots], waiting[self.free_slots:]
                self.admit_many([(inputs, limit, index) for index, (inputs, limit) in joining])
            for tag, tokens, _ in self.finished():
                results[tag] = tokens
            if self.rows:
                self.step()
                for tag, tokens, _ in self.finished():
                    results[tag] = tokens
        return [results[index] for index in range(len(requests))]
