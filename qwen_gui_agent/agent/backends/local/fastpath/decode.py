"""Greedy decoding of Qwen2.5-VL one token at a time from a static KV cache, replayed as CUDA graphs.

Plain ``generate`` spends 30-60 ms per token on a 7B model whose weights take ~5 ms to
read: the GPU waits for Python (about a thousand kernel launches per token, and a host
sync per step). Here every tensor of the one-token step lives at a fixed address, so the
step is captured once as CUDA graphs and each later token costs a few ``replay()`` calls.

The step runs transformers' own modules (projections, MLP, rotary angles) with the same
operations ``generate`` performs; on CUDA the norms, residual adds, rotary and SiLU are Triton
kernels that round exactly like those operations (fast_kernels), and the gate/up, q/k/v and
head products are Triton kernels fused with their neighbours wherever they were found equal to
cuBLAS's at start-up (fast_gemv), so the arithmetic is the same bit for bit.
Attention is the one call whose shape grows with the answer: it runs eagerly between the
graphs, on exactly the filled part of the cache, as the very SDPA call ``generate`` makes.
So the greedy tokens are ``generate``'s bit for bit (checked on an H100 for 3B and 7B), and
the graphs hold 29 (or 37) stretches of about a dozen kernels each instead of one launch each.

A single whole-step graph with masked attention over the fixed-length cache was measured
too (docs/performance.md): slower here (9.4 vs 8.4 ms per token for 7B) and not identical.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from . import kernels as fast_kernels
from .greedy import choose
from .model import TextModel, after_attention, apply_rope, before_attention

log = logging.getLogger(__name__)


def warm_up_on_side_stream(work: Callable[[], None], times: int = 1) -> None:
    """Run ``work`` before a CUDA graph capture, on a side stream as PyTorch asks: cuBLAS handles,
    kernel choice, Triton compiles and workspaces happen here, not inside the capture."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(times):
            work()
    torch.cuda.current_stream().wait_stream(stream)


class DecodeState:
    """Every tensor one decode step reads or writes; fixed shapes, so a CUDA graph can replay the step."""

    def __init__(self, text: TextModel, capacity: int, vocab: int, device: torch.device, dtype: torch.dtype) -> None:
        self.capacity = capacity
        shape = (1, text.kv_heads, capacity, text.head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in text.layers]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in text.layers]
        self.token = torch.zeros(1, 1, dtype=torch.long, device=device)
        self.cache_index = torch.zeros(1, dtype=torch.long, device=device)  # where the next key goes
        self.rope_delta = torch.zeros(1, dtype=torch.long, device=device)
        self.generated = torch.zeros(1, dtype=torch.long, device=device)  # tokens chosen so far
        self.min_new = torch.zeros(1, dtype=torch.long, device=device)
        self.eos_penalty = torch.zeros(vocab, dtype=torch.float32, device=device)  # -inf on EOS ids
        self.seen = torch.zeros(vocab, dtype=torch.bool, device=device)  # for the repetition penalty
        self.repetition = torch.ones(1, dtype=torch.float32, device=device)
        self.out = torch.zeros(capacity, dtype=torch.long, device=device)
        self.logits = torch.zeros(vocab, dtype=torch.float32, device=device)  # the last step's, for checks
        # Added to the logits before the greedy choice: zeros, or -inf outside an answer grammar (fast_grammar).
        self.bias = torch.zeros(vocab, dtype=torch.float32, device=device)
        self.slots = torch.arange(capacity, device=device)

    def _bookkeeping(self) -> tuple[torch.Tensor, ...]:
        return self.token, self.cache_index, self.generated, self.out, self.seen

    def snapshot(self) -> list[torch.Tensor]:
        """Copies of the bookkeeping a step advances, so the steps run while capturing a graph can be undone."""
        return [t.clone() for t in self._bookkeeping()]

    def restore(self, saved: list[torch.Tensor]) -> None:
        for target, value in zip(self._bookkeeping(), saved, strict=False):
            target.copy_(value)


def choose_token(logits: torch.Tensor, state: DecodeState) -> torch.Tensor:
    """The greedy choice (greedy.choose) for the one row, its raw float32 logits kept for checks."""
    state.logits.copy_(logits.view(-1))
    return choose(
        logits.view(1, -1),
        state.seen.view(1, -1),
        state.generated,
        state.min_new,
        state.repetition,
        state.eos_penalty,
        state.bias,
    )


def record_token(token: torch.Tensor, state: DecodeState) -> None:
    """Write the chosen token everywhere the next step and the caller read it."""
    state.out.index_copy_(0, state.generated, token.view(1))
    state.token.copy_(token.view(1, 1))
    state.seen.index_fill_(0, token.view(1), True)
    state.generated.add_(1)


def embed_token(text: TextModel, state: DecodeState) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The current token's embedding and its rotary cos/sin (all three position rows equal for text)."""
    hidden = text.embed(state.token)
    position = (state.cache_index + state.rope_delta).view(1, 1, 1).expand(3, 1, 1)
    cos, sin = text.rotary(hidden, position)
    return hidden, cos, sin


def attention_inputs(
    text: TextModel,
    state: DecodeState,
    number: int,
    residual: torch.Tensor,
    delta: torch.Tensor | None,
    cos: torch.Tensor,
    sin: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual stream entering layer ``number`` (``residual + delta``), and the layer's rotated query,
    with its key and value written into the cache at ``cache_index``."""
    residual, q, k, v = before_attention(text, number, residual, delta, "row")
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    if text.kernels:
        return residual, fast_kernels.rotate_and_store(
            q.contiguous(),
            k.contiguous(),
            v.contiguous(),
            cos,
            sin,
            state.keys[number],
            state.values[number],
            state.cache_index,
        )
    q, k = apply_rope(q, k, cos, sin)
    state.keys[number].index_copy_(2, state.cache_index, k)
    state.values[number].index_copy_(2, state.cache_index, v)
    return residual, q


def exact_attention(text: TextModel, state: DecodeState, number: int, q: torch.Tensor, length: int) -> torch.Tensor:
    """The call transformers makes while generating: the first ``length`` cache slots, no mask.

    The slots are read in place (a strided view of the static cache): flash attention, the
    backend both paths use with cuDNN attention off, computes the same from any row stride
    (benchmarks/gpu_check_kernels.py compares it with the contiguous copy transformers holds).
    """
    groups = text.heads // text.kv_heads
    keys = state.keys[number][:, :, :length]
    values = state.values[number][:, :, :length]
    return F.scaled_dot_product_attention(
        q,
        keys,
        values,
        attn_mask=None,
        dropout_p=0.0,
        scale=text.layers[number].self_attn.scaling,
        is_causal=False,
        enable_gqa=groups > 1,
    )


def finish_step(text: TextModel, state: DecodeState, residual: torch.Tensor, delta: torch.Tensor | None) -> None:
    record_token(choose_token(text.last_logits(residual, delta, "row"), state), state)
    state.cache_index.add_(1)


class DecodeGraph:
    """The decode step of one cache size: graphs between attention calls on CUDA, plain calls on the CPU."""

    def __init__(self, text: TextModel, state: DecodeState) -> None:
        self.text = text
        self.state = state
        self.length = 0  # filled cache slots before the next step (known on the host: no sync)
        self.graphs: list[Any] = []
        self.chunk_graphs: dict[int, Any] = {}  # fast_grammar's multi-token forwards by length (same state)
        layers = len(text.layers)
        self._queries: list[Any] = [None] * layers
        self._attention_out = torch.empty(
            1, text.heads, 1, text.head_dim, device=state.out.device, dtype=state.keys[0].dtype
        )
        if state.out.device.type == "cuda":
            self._capture()

    def _stretch(self, index: int) -> None:
        """Stretch ``index``: finish layer index-1 (if any), then prepare layer index's attention (or the head)."""
        text, state = self.text, self.state
        delta = None
        if index == 0:
            self._residual, self._cos, self._sin = embed_token(text, state)
        else:
            out = self._attention_out.transpose(1, 2).reshape(1, 1, -1)
            self._residual, delta = after_attention(text, index - 1, self._residual, out, "row")
        if index < len(text.layers):
            self._residual, self._queries[index] = attention_inputs(
                text, state, index, self._residual, delta, self._cos, self._sin
            )
        else:
            finish_step(text, state, self._residual, delta)

    def _run(self, replay: bool) -> None:
        for index in range(len(self.text.layers) + 1):
            if replay:
                self.graphs[index].replay()
            else:
                self._stretch(index)
            if index < len(self.text.layers):
                out = exact_attention(self.text, self.state, index, self._queries[index], self.length + 1)
                self._attention_out.copy_(out)

    @torch.inference_mode()
    def _capture(self) -> None:
        saved = self.state.snapshot()
        warm_up_on_side_stream(lambda: self._run(replay=False), times=2)
        self.state.restore(saved)
        # One memory pool for all stretches: each stretch reads tensors the previous one left there.
        pool = torch.cuda.graph_pool_handle()
        for index in range(len(self.text.layers) + 1):
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self._stretch(index)
            self.graphs.append(graph)
        self.state.restore(saved)

    @torch.inference_mode()
    def step(self) -> None:
        """One more token (``length`` must say how many cache slots are filled)."""
        self._run(replay=bool(self.graphs))
        self.length += 1
