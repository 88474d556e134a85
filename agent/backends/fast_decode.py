"""Greedy decoding of Qwen2.5-VL one token at a time from a static KV cache, replayed as one CUDA graph.

Plain ``generate`` spends ~28 ms per token on a 7B model whose weights take ~5 ms to
read: the GPU waits for Python (about a thousand kernel launches per token, plus a host
sync per step). Here the whole one-token step (embedding, 28 decoder layers, the head,
the greedy choice, writing the token and moving the counters) lives in device tensors
of fixed shape, so it is captured once as a CUDA graph and each later token is a single
``replay()``.

The layers run transformers' own modules (norms, projections, MLP, rotary embedding), so
the arithmetic matches ``generate``; only attention differs in shape: it reads the whole
fixed-length cache with a mask instead of a growing one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor,
                sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # transformers' apply_rotary_pos_emb, written out: same operations in the same order.
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (q * cos) + (_rotate_half(q) * sin), (k * cos) + (_rotate_half(k) * sin)


@dataclass(frozen=True)
class TextModel:
    """The parts of a Qwen2.5-VL model the decode step uses."""

    embed: Any
    layers: Sequence[Any]
    norm: Any
    rotary: Any
    head: Any
    kv_heads: int
    heads: int
    head_dim: int

    @classmethod
    def of(cls, model: Any) -> TextModel:
        language = model.model.language_model
        config = language.config
        heads = config.num_attention_heads
        return cls(embed=language.embed_tokens, layers=language.layers, norm=language.norm,
                   rotary=language.rotary_emb, head=model.lm_head, kv_heads=config.num_key_value_heads,
                   heads=heads, head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads)


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
        self.slots = torch.arange(capacity, device=device)


def choose_token(logits: torch.Tensor, state: DecodeState) -> torch.Tensor:
    """Greedy choice after the two processors the fast path supports, as transformers applies them.

    Repetition penalty first (divide positive, multiply negative scores of tokens already in the
    sequence), then EOS suppressed while fewer than ``min_new`` tokens were chosen.
    """
    penalty = state.repetition
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    logits = torch.where(state.seen, penalized, logits)
    logits = torch.where(state.generated < state.min_new, logits + state.eos_penalty, logits)
    return torch.argmax(logits, dim=-1)


def record_token(token: torch.Tensor, state: DecodeState) -> None:
    """Write the chosen token everywhere the next step and the caller read it."""
    state.out.index_copy_(0, state.generated, token.view(1))
    state.token.copy_(token.view(1, 1))
    state.seen.index_fill_(0, token.view(1), True)
    state.generated.add_(1)


def decode_step(text: TextModel, state: DecodeState) -> None:
    """One token: read ``state.token`` at ``state.cache_index``, choose the next one, advance."""
    hidden = text.embed(state.token)
    position = (state.cache_index + state.rope_delta).view(1, 1, 1).expand(3, 1, 1)
    cos, sin = text.rotary(hidden, position)
    visible = (state.slots <= state.cache_index).view(1, 1, 1, -1)
    groups = text.heads // text.kv_heads
    for number, layer in enumerate(text.layers):
        attn = layer.self_attn
        residual = hidden
        hidden = layer.input_layernorm(hidden)
        q = attn.q_proj(hidden).view(1, 1, -1, text.head_dim).transpose(1, 2)
        k = attn.k_proj(hidden).view(1, 1, -1, text.head_dim).transpose(1, 2)
        v = attn.v_proj(hidden).view(1, 1, -1, text.head_dim).transpose(1, 2)
        q, k = _apply_rope(q, k, cos, sin)
        state.keys[number].index_copy_(2, state.cache_index, k)
        state.values[number].index_copy_(2, state.cache_index, v)
        # Grouped-query attention without copying the cache: the query heads that share a
        # key/value head become that head's queries.
        grouped = q.reshape(1, text.kv_heads, groups, text.head_dim)
        out = F.scaled_dot_product_attention(grouped, state.keys[number], state.values[number],
                                             attn_mask=visible, scale=attn.scaling)
        hidden = residual + attn.o_proj(out.reshape(1, 1, -1))
        residual = hidden
        hidden = residual + layer.mlp(layer.post_attention_layernorm(hidden))
    logits = text.head(text.norm(hidden)[:, -1, :]).float()
    record_token(choose_token(logits, state), state)
    state.cache_index.add_(1)


class DecodeGraph:
    """``decode_step`` captured once on CUDA (replayed per token), or run directly on the CPU."""

    def __init__(self, text: TextModel, state: DecodeState) -> None:
        self.text = text
        self.state = state
        self.graph: Any = None
        if state.out.device.type == "cuda":
            self._capture()

    @torch.inference_mode()
    def _capture(self) -> None:
        saved = self._snapshot()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):  # warm-up outside the graph: cuBLAS handles, kernel selection
                decode_step(self.text, self.state)
        torch.cuda.current_stream().wait_stream(stream)
        self._restore(saved)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            decode_step(self.text, self.state)
        self._restore(saved)
        self.graph = graph

    def _snapshot(self) -> list[torch.Tensor]:
        s = self.state
        return [t.clone() for t in (s.token, s.cache_index, s.generated, s.out, s.seen)]

    def _restore(self, saved: list[torch.Tensor]) -> None:
        s = self.state
        for target, value in zip((s.token, s.cache_index, s.generated, s.out, s.seen), saved):
            target.copy_(value)

    @torch.inference_mode()
    def step(self) -> None:
        if self.graph is not None:
            self.graph.replay()
        else:
            decode_step(self.text, self.state)
