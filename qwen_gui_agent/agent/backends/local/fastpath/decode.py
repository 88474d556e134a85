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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from . import gemv as fast_gemv
from . import kernels as fast_kernels
from . import rmsnorm as fast_rmsnorm

log = logging.getLogger(__name__)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """transformers' rotate_half (the text model's and the vision tower's rotary both use it)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor,
               sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    # transformers' apply_rotary_pos_emb, written out: same operations in the same order.
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def warm_up_on_side_stream(work: Callable[[], None], times: int = 1) -> None:
    """Run ``work`` before a CUDA graph capture, on a side stream as PyTorch asks: cuBLAS handles,
    kernel choice, Triton compiles and workspaces happen here, not inside the capture."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(times):
            work()
    torch.cuda.current_stream().wait_stream(stream)


def add_rms_norm(norm: Any, residual: torch.Tensor, delta: torch.Tensor | None,
                 kernels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual stream after adding ``delta`` (if any), and its RMS norm by the module ``norm``.

    The add belongs to the previous block and the norm to the next one; with ``kernels`` one
    launch does the add and the norm's first pass (fast_kernels, CUDA only).
    """
    if kernels and delta is not None:
        return fast_kernels.add_rms_norm(residual, delta, norm.weight, norm.variance_epsilon)
    hidden = residual if delta is None else residual + delta
    if kernels:
        return hidden, fast_kernels.rms_norm(hidden, norm.weight, norm.variance_epsilon)
    return hidden, norm(hidden)



def add_rms_norm_rows(norm: Any, residual: torch.Tensor, delta: torch.Tensor | None,
                      kernels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """add_rms_norm in one launch for any number of rows (the fleet's many-row tensors).

    Each row is summed as a lone row would be (fast_rmsnorm), not as ATen sums a many-row tensor,
    so not eager's bits beyond one row; the three-launch form where fast_rmsnorm cannot take the width.
    """
    if kernels and fast_rmsnorm.handles(residual.shape[-1]):
        return fast_rmsnorm.add_rms_norm_rows(residual, delta, norm.weight, norm.variance_epsilon)
    return add_rms_norm(norm, residual, delta, kernels)

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
    kernels: bool = False  # fast_kernels' exact Triton kernels for the norms and the rotary (CUDA only)
    silu: bool = False  # the MLP's activation is SiLU (fast_kernels.silu_mul applies)
    gemv: fast_gemv.GemvPlan = field(default_factory=fast_gemv.GemvPlan)  # fused products equal to cuBLAS
    one_launch_norm: bool = False  # fast_rmsnorm's add + norm equals eager here (checked at start-up)

    @classmethod
    def of(cls, model: Any, kernels: bool = False) -> TextModel:
        language = model.model.language_model
        config = language.config
        heads = config.num_attention_heads
        silu = config.hidden_act == "silu"
        gemv = fast_gemv.plan_for(language.layers[0], model.lm_head) if kernels and silu else fast_gemv.GemvPlan()
        one_launch_norm = kernels and fast_rmsnorm.equals_eager(language.norm)
        log.info("one-launch RMS norm equal to eager here: %s", one_launch_norm)
        return cls(embed=language.embed_tokens, layers=language.layers, norm=language.norm,
                   rotary=language.rotary_emb, head=model.lm_head, kv_heads=config.num_key_value_heads,
                   heads=heads, head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
                   kernels=kernels, silu=silu, gemv=gemv, one_launch_norm=one_launch_norm)

    def add_rms_norm(self, module: Any, residual: torch.Tensor,
                     delta: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """add_rms_norm for one decode row: one launch where fast_rmsnorm equals eager, else three."""
        if self.one_launch_norm:
            return fast_rmsnorm.add_rms_norm_row(residual, delta, module.weight, module.variance_epsilon)
        return add_rms_norm(module, residual, delta, self.kernels)

    def mlp(self, module: Any, x: torch.Tensor) -> torch.Tensor:
        """The MLP block of one decode row."""
        if self.kernels and self.silu and self.gemv.gate_up:
            return module.down_proj(fast_gemv.gate_up_silu(x, module.gate_proj.weight, module.up_proj.weight))
        return self.mlp_rows(module, x)

    def mlp_rows(self, module: Any, x: torch.Tensor) -> torch.Tensor:
        """The MLP block of any number of rows: SiLU and the product in one launch on CUDA, eager elsewhere."""
        if not (self.kernels and self.silu):
            return module(x)
        return module.down_proj(fast_kernels.silu_mul(module.gate_proj(x), module.up_proj(x)))

    def logits(self, normed: torch.Tensor) -> torch.Tensor:
        """The head's float32 logits of the last row, flat."""
        if self.gemv.head:
            return fast_gemv.head_logits(normed[:, -1, :], self.head.weight)
        return self.head(normed[:, -1:, :])[:, -1, :].float().view(-1)


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
        for target, value in zip(self._bookkeeping(), saved):
            target.copy_(value)


def choose_token(logits: torch.Tensor, state: DecodeState) -> torch.Tensor:
    """Greedy choice after the two processors the fast path supports, as transformers applies them.

    Repetition penalty first (divide positive, multiply negative scores of tokens already in the
    sequence), then EOS suppressed while fewer than ``min_new`` tokens were chosen, then the
    grammar's bias (all zeros unless fast_grammar constrains the answer: adding 0 changes no score).
    """
    state.logits.copy_(logits.view(-1))
    penalty = state.repetition
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    logits = torch.where(state.seen, penalized, logits)
    logits = torch.where(state.generated < state.min_new, logits + state.eos_penalty, logits)
    return torch.argmax(logits + state.bias, dim=-1)


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


def attention_inputs(text: TextModel, state: DecodeState, number: int, residual: torch.Tensor,
                     delta: torch.Tensor | None, cos: torch.Tensor,
                     sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual stream entering layer ``number`` (``residual + delta``), and the layer's query,
    with its key and value written into the cache at ``cache_index``."""
    layer = text.layers[number]
    attn = layer.self_attn
    hidden, normed = text.add_rms_norm(layer.input_layernorm, residual, delta)
    if text.gemv.qkv is not None:
        q, k, v = fast_gemv.qkv(normed, attn, text.gemv.qkv)
    else:
        q, k, v = attn.q_proj(normed), attn.k_proj(normed), attn.v_proj(normed)
    q, k, v = (t.view(1, 1, -1, text.head_dim).transpose(1, 2) for t in (q, k, v))
    if text.kernels:
        return hidden, fast_kernels.rotate_and_store(q, k, v, cos, sin, state.keys[number], state.values[number],
                                                     state.cache_index)
    q, k = apply_rope(q, k, cos, sin)
    state.keys[number].index_copy_(2, state.cache_index, k)
    state.values[number].index_copy_(2, state.cache_index, v)
    return hidden, q


def exact_attention(text: TextModel, state: DecodeState, number: int, q: torch.Tensor, length: int) -> torch.Tensor:
    """The call transformers makes while generating: the first ``length`` cache slots, no mask.

    The slots are read in place (a strided view of the static cache): flash attention, the
    backend both paths use with cuDNN attention off, computes the same from any row stride
    (benchmarks/gpu_check_kernels.py compares it with the contiguous copy transformers holds).
    """
    groups = text.heads // text.kv_heads
    keys = state.keys[number][:, :, :length]
    values = state.values[number][:, :, :length]
    return F.scaled_dot_product_attention(q, keys, values, attn_mask=None, dropout_p=0.0,
                                          scale=text.layers[number].self_attn.scaling, is_causal=False,
                                          enable_gqa=groups > 1)


def after_attention(text: TextModel, number: int, residual: torch.Tensor,
                    out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The rest of the decoder layer: output projection, residual, MLP block.

    Returns the residual stream and the MLP's output not yet added to it: the next norm adds it.
    """
    layer = text.layers[number]
    out = out.transpose(1, 2).contiguous().reshape(1, 1, -1).contiguous()
    hidden, normed = text.add_rms_norm(layer.post_attention_layernorm, residual, layer.self_attn.o_proj(out))
    return hidden, text.mlp(layer.mlp, normed)


def finish_step(text: TextModel, state: DecodeState, residual: torch.Tensor, delta: torch.Tensor) -> None:
    _, normed = text.add_rms_norm(text.norm, residual, delta)
    record_token(choose_token(text.logits(normed), state), state)
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
        self._attention_out = torch.empty(1, text.heads, 1, text.head_dim, device=state.out.device,
                                          dtype=state.keys[0].dtype)
        if state.out.device.type == "cuda":
            self._capture()

    def _stretch(self, index: int) -> None:
        """Stretch ``index``: finish layer index-1 (if any), then prepare layer index's attention (or the head)."""
        text, state = self.text, self.state
        delta = None
        if index == 0:
            self._residual, self._cos, self._sin = embed_token(text, state)
        else:
            self._residual, delta = after_attention(text, index - 1, self._residual, self._attention_out)
        if index < len(text.layers):
            self._residual, self._queries[index] = attention_inputs(text, state, index, self._residual, delta,
                                                                    self._cos, self._sin)
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
