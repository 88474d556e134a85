"""Many conversations decoding at once on one model: the scheduler of the fleet's slots.

A suite's devices each wait for the next step of their own conversation. Decoding one token
reads every weight once whatever the number of rows, so S rows decoded together cost about
what one costs. The work is split three ways:

- joining (join.py): conversations join free slots between decode steps, together when they
  arrive together: one vision call per screen size, the keys and values of the prompt prefix
  they share computed once and kept, one prefill of the rest written straight into the slots;
  each first token is chosen on the GPU and read with the next step's tokens (no host sync);
- decoding (runner.py): one step advances every slot by one token, a CUDA graph on CUDA;
- scheduling (here): which conversation holds which slot, its tokens on the host, and when it is
  done: a row that chose an end token or reached its limit leaves (``finished``) and its slot is
  free for the next conversation, while the others go on.

The joins and the step run the engine's one model definition (fastpath/model.py), for Qwen2.5-VL
and Qwen3-VL alike. Rounding is not the single-stream path's bit for bit (the products run on
other shapes, the prefix is computed apart, attention sums in another order), so near-tied tokens
can differ from ``generate``, as they do in plain batched ``generate``; benchmarks/bench_fleet.py
reports the agreement and the logit gap at each first difference (docs/fleet.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..fastpath.engine import FastPath
from ..fastpath.gemv import ManyConfigs
from ..fastpath.greedy import GreedyOptions
from .join import FleetJoin, JoiningRow, JoinSettings
from .runner import FleetRunner, FleetSlots

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


class FleetEngine:
    """Continuous batching over ``slots`` rows of one model (see the module's docstring)."""

    def __init__(
        self,
        fast: FastPath,
        options: GreedyOptions,
        *,
        slots: int = 8,
        capacity: int = 4096,
        join: JoinSettings | None = None,
        fused_products: bool = True,
        many_configs: ManyConfigs | None = None,
    ) -> None:
        """``fused_products``: the decode step's q/k/v, gate/up/SiLU and head as many-row Triton kernels where they
        apply (CUDA, at most 16 slots); False keeps cuBLAS (benchmarks compare the two in one process).
        ``many_configs``: those kernels' block shapes (default gemv.ManyConfigs(); a speed choice, same bits)."""
        self.fast = fast
        self.options = options
        self.runner = FleetRunner(fast, options, slots, capacity, fused_products, many_configs)
        self.stops = set(options.eos_token_ids)
        self.rows: dict[int, _Row] = {}
        self.joiner = FleetJoin(fast, self.state.keys, self.state.values, join or JoinSettings())

    @property
    def state(self) -> FleetSlots:
        return self.runner.state

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
                raise ValueError(
                    f"{len(row.ids)} prompt tokens + {limit} new do not fit the {state.capacity}-token "
                    "slots; start the engine with a larger capacity"
                )
            joining.append(row)
        first_logits = self.joiner.join(joining)
        for row, logits, (_, limit, tag) in zip(joining, first_logits, requests, strict=False):
            self._start_row(row, logits, _Row(limit=limit, prompt_tokens=len(row.ids), started=started, tag=tag))
        # No host sync here: the first tokens are read with the next step's tokens, so the host goes on
        # preparing while the GPU works.
        return [row.slot for row in joining]

    def _start_row(self, row: JoiningRow, first_logits: torch.Tensor, host: _Row) -> None:
        self.runner.start_row(row.slot, row.input_ids, len(row.ids), row.rope_delta, first_logits)
        self.rows[row.slot] = host

    # -- the shared step ----------------------------------------------------------------------------

    def step(self) -> None:
        """One token for every active row (runner.py), read into each row's tokens."""
        firsts, news = self.runner.step()
        for slot, row in self.rows.items():
            if not row.tokens:
                row.tokens.append(firsts[slot])
                row.first_token_ms = (time.perf_counter() - row.started) * 1000
            row.tokens.append(news[slot])

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
                joining, waiting = waiting[: self.free_slots], waiting[self.free_slots :]
                self.admit_many([(inputs, limit, index) for index, (inputs, limit) in joining])
            for tag, tokens, _ in self.finished():
                results[tag] = tokens
            if self.rows:
                self.step()
                for tag, tokens, _ in self.finished():
                    results[tag] = tokens
        return [results[index] for index in range(len(requests))]
