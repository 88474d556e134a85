"""Grammar-constrained greedy decoding on the fast path, with forced tokens fed without decode steps.

Opt-in (``BackendSettings.grammar``): every answer stays inside the dialect's action format
(agent/backends/grammar/rules.py), so it always parses. Greedy within the grammar: the fast
path's decode step adds the grammar's bias (0 allowed, -inf not) before its argmax.

Where the grammar leaves no choice (``{"name": "``, ``", "arguments": {"action": "``, the closing
``}}\\n</tool_call>`` ...), the forced tokens are not decoded one by one: the ones at the start
join the prompt's prefill, the ones after a free token go through the model in one chunk forward
together with that token (its keys and values into the static cache, causal mask inside the
chunk; replayed as a CUDA graph per chunk length on CUDA), and the chunk's last logits choose the
next free token. A 40-token action answer then costs its free tokens in decode steps plus a few chunks.

The answer differs from unconstrained decoding by design (it is the best answer inside the
grammar), so there is no bit-identity claim here; the unconstrained fast path is unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from .decode import DecodeGraph, DecodeState, choose_token, record_token, warm_up_on_side_stream
from .engine import FastPath
from .grammar import Constraint
from .greedy import FastPathUnsupported, GreedyOptions
from .model import TextModel, apply_rope, run_layers

log = logging.getLogger(__name__)


# Tokens kept back for closing an answer whose free text runs long (the closers take fewer than this).
CLOSING_RESERVE = 16


@dataclass
class GrammarResult:
    tokens: list[int]
    prompt_tokens: int
    forced: int = 0  # tokens the grammar forced (fed in the prefill or in chunks, never decoded alone)
    decode_steps: int = 0  # one-token decode steps (graph replays on CUDA)
    chunks: int = 0  # chunk forwards (a free token plus the forced tokens after it)
    timings: dict[str, float] = field(default_factory=dict)


@torch.inference_mode()
def constrained_generate(
    fast: FastPath,
    inputs: Mapping[str, Any],
    max_new_tokens: int,
    constraint: Constraint,
    options: GreedyOptions | None = None,
) -> GrammarResult:
    """Greedy tokens of one answer inside ``constraint``'s grammar (prompt excluded, forced ones included)."""
    options = options or GreedyOptions()
    input_ids = inputs["input_ids"].to(fast.device)
    if input_ids.shape[0] != 1:
        raise FastPathUnsupported("constrained decoding handles one conversation at a time (batch size 1)")
    started = time.perf_counter()
    head = constraint.forced(max_new_tokens - 1)  # forced before any choice: part of the prefill
    ids = torch.cat([input_ids, torch.tensor([head], dtype=input_ids.dtype, device=fast.device)], dim=1)
    prompt = ids.shape[1]
    graph, _ = fast._graph_for(fast._capacity(prompt, max_new_tokens))
    clock = fast._start(graph, inputs, ids, options, first_bias=constraint.allowed_bias)
    result = GrammarResult(tokens=list(head), prompt_tokens=input_ids.shape[1], forced=len(head))
    try:
        _decode(fast.text, graph, constraint, max_new_tokens, result)
    finally:
        graph.state.bias.zero_()  # the unconstrained path shares this state
    clock.mark("decode")
    result.timings = clock.phase_timings()
    result.timings["wall"] = (time.perf_counter() - started) * 1000
    return result


def _decode(
    text: TextModel, graph: DecodeGraph, constraint: Constraint, max_new_tokens: int, result: GrammarResult
) -> None:
    """Free token, forced run, free token ... until the grammar is complete or the budget is spent."""
    state = graph.state
    while True:
        token = int(state.token)  # the host needs each free token to advance the grammar
        result.tokens.append(token)
        constraint.accept(token)
        if constraint.done:
            break
        forced = constraint.forced(max_new_tokens - len(result.tokens))
        result.tokens += forced
        result.forced += len(forced)
        if constraint.done:
            break
        if max_new_tokens - len(result.tokens) <= CLOSING_RESERVE:
            closing = constraint.close()  # end free text that ran too long; nothing is decoded after it
            result.tokens += closing
            result.forced += len(closing)
            if closing or len(result.tokens) >= max_new_tokens:
                break
        constraint.allowed_bias(state.bias)
        if forced:
            chunk_step(text, graph, [token, *forced])
            result.chunks += 1
        else:
            graph.step()
            result.decode_steps += 1
    if not constraint.done:
        log.warning("the answer hit max_new_tokens (%d) before its grammar closed; it may not parse", max_new_tokens)


class ChunkGraph:
    """The forward of ``count`` tokens appended to the static cache, replayed as one CUDA graph on CUDA.

    Eager, a 7B chunk costs ~43 ms on an H100 (about 1,300 launches, host-bound) against ~8 ms for
    a graph-replayed decode step. With fixed shapes it becomes one graph: the ids sit in a static
    tensor, keys and values go to slots ``cache_index ..`` via index_copy_, and attention runs over
    the whole cache with a mask (slot <= its own position), so nothing depends on the host-side
    length. One graph per chunk length, captured on first use (forced runs come in few lengths).
    On the CPU the same function runs eagerly.
    """

    def __init__(self, text: TextModel, state: DecodeState, count: int) -> None:
        self.text, self.state, self.count = text, state, count
        device = state.out.device
        self.ids = torch.zeros(1, count, dtype=torch.long, device=device)
        self._offsets = torch.arange(count, device=device)
        self.graph: Any = None
        if device.type == "cuda":
            self._capture()

    def run(self, tokens: list[int]) -> None:
        self.ids.copy_(torch.tensor([tokens], dtype=torch.long), non_blocking=True)
        if self.graph is not None:
            self.graph.replay()
        else:
            self._forward()

    def _forward(self) -> None:
        text, state, count = self.text, self.state, self.count
        hidden = text.embed(self.ids)
        slots = state.cache_index + self._offsets
        position = (slots + state.rope_delta).view(1, 1, count).expand(3, 1, count)
        cos, sin = text.rotary(hidden, position)
        mask = state.slots.view(1, -1) <= slots.view(count, 1)  # row i sees slots 0 .. cache_index + i

        def attend(number: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            attn = text.layers[number].self_attn
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))
            q, k = apply_rope(q, k, cos, sin)
            state.keys[number].index_copy_(2, slots, k)
            state.values[number].index_copy_(2, slots, v)
            out = F.scaled_dot_product_attention(
                q,
                state.keys[number],
                state.values[number],
                attn_mask=mask,
                scale=attn.scaling,
                enable_gqa=text.heads != text.kv_heads,
            )
            return out.transpose(1, 2).reshape(1, count, -1)

        residual, delta = run_layers(text, hidden, attend, "exact")
        logits = text.last_logits(residual, delta, "exact")
        state.seen.index_fill_(0, self.ids[0], True)  # forced tokens count for the repetition penalty too
        record_token(choose_token(logits, state), state)
        state.cache_index.add_(count)

    @torch.inference_mode()
    def _capture(self) -> None:
        saved = self.state.snapshot()
        warm_up_on_side_stream(self._forward)
        self.state.restore(saved)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._forward()
        self.state.restore(saved)
        self.graph = graph


def chunk_step(text: TextModel, graph: DecodeGraph, tokens: list[int]) -> None:
    """Feed ``tokens`` (the last free token, then forced ones) in one forward; choose the next token.

    Same modules as the one-token step on ``len(tokens)`` positions: keys and values go to cache
    slots length .. length+n-1, each position attends to the cache and to the chunk up to itself.
    The chunk graphs of each length live on the DecodeGraph (they read and write its state).
    """
    chunk = graph.chunk_graphs.get(len(tokens))
    if chunk is None:
        log.info("capturing the %d-token chunk forward", len(tokens))
        chunk = graph.chunk_graphs[len(tokens)] = ChunkGraph(text, graph.state, len(tokens))
    chunk.run(tokens)
    graph.length += len(tokens)
