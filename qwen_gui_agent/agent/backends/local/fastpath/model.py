"""The engine's model: a Qwen-VL language model written once, for every runner.

Qwen2.5-VL and Qwen3-VL are two configurations of one decoder: Qwen3-VL adds RMS norms on each
query and key head before the rotary (``qk_norm``) and DeepStack (vision features added to the
image positions' hidden states after the first language layers); its rotary interleaves the three
position axes, which transformers' own rotary module does for us. Everything else (norms, gated
MLP, grouped-query attention, the head) is the same.

A layer is two halves around its attention: ``before_attention`` (residual add, norm, q/k/v and
the q/k norms) and ``after_attention`` (output projection, residual add, norm, MLP). What sits
between them is the runner's: where the keys and values go and which attention kernel reads them.
So the single-stream decode (CUDA graphs between exact attention calls, decode.py), the prefills
(prefill.py for one conversation, fleet/join.py for many), the fleet's decode step
(fleet/runner.py) and the grammar's chunk forwards (grammar_decode.py) all run these halves.

Each runs them in one of three styles, which differ only in how the same arithmetic is launched:

- ``row``: one decode row, bit for bit what ``generate``'s decode step computes (fused products
  where fast_gemv found them equal to cuBLAS, the one-launch norm where fast_rmsnorm equals eager);
- ``exact``: any number of tokens of one conversation, bit for bit what ``generate``'s prefill
  computes (the norms' means are PyTorch's own reduction over the same tensors);
- ``rows``: many rows at once (the fleet), each row's norm summed as a lone row's, so not eager's
  bits beyond one row. A runner of at most 16 rows (the fleet's decode step) takes a copy made by
  ``for_rows``, whose q/k/v, gate/up/SiLU and head products are fast_gemv's many-row kernels:
  each row then gets the single stream's fused products (K unsplit) for that row alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from . import gemv as fast_gemv
from . import kernels as fast_kernels
from . import rmsnorm as fast_rmsnorm

log = logging.getLogger(__name__)

Style = Literal["row", "exact", "rows"]
# The runner's part of a layer: (layer number, q, k, v as (batch, tokens, heads, head_dim)) -> the attention's
# output as (batch, tokens, heads * head_dim).
Attend = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """transformers' rotate_half (the text model's and the vision towers' rotary all use it)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    # transformers' apply_rotary_pos_emb, written out: same operations in the same order.
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def add_rms_norm(
    norm: Any, residual: torch.Tensor, delta: torch.Tensor | None, kernels: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual stream after adding ``delta`` (if any), and its RMS norm by the module ``norm``.

    The add belongs to the previous block and the norm to the next one; with ``kernels`` the add and
    the norm's first pass share a launch (fast_kernels, CUDA only) and the mean is PyTorch's own
    reduction over the same tensor, so the bits are eager's for any number of rows.
    """
    if kernels and delta is not None:
        return fast_kernels.add_rms_norm(residual.contiguous(), delta.contiguous(), norm.weight, norm.variance_epsilon)
    hidden = residual if delta is None else residual + delta
    if kernels:
        return hidden, fast_kernels.rms_norm(hidden.contiguous(), norm.weight, norm.variance_epsilon)
    return hidden, norm(hidden)


def add_rms_norm_rows(
    norm: Any, residual: torch.Tensor, delta: torch.Tensor | None, kernels: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """add_rms_norm in one launch for any number of rows (the fleet's many-row tensors).

    Each row is summed as a lone row would be (fast_rmsnorm), not as ATen sums a many-row tensor,
    so not eager's bits beyond one row; the three-launch form where fast_rmsnorm cannot take the width.
    """
    if kernels and fast_rmsnorm.handles(residual.shape[-1]):
        return fast_rmsnorm.add_rms_norm_rows(residual, delta, norm.weight, norm.variance_epsilon)
    return add_rms_norm(norm, residual, delta, kernels)


@dataclass(frozen=True)
class TextModel:
    """The language model of a Qwen2.5-VL or Qwen3-VL checkpoint, as the engine runs it."""

    embed: Any
    layers: Sequence[Any]
    norm: Any
    rotary: Any
    head: Any
    kv_heads: int
    heads: int
    head_dim: int
    kernels: bool = False  # fast_kernels' exact Triton kernels for norms, SiLU and rotary (CUDA only)
    silu: bool = False  # the MLP's activation is SiLU (fast_kernels.silu_mul applies)
    gemv: fast_gemv.GemvPlan = field(default_factory=fast_gemv.GemvPlan)  # fused products equal to cuBLAS
    one_launch_norm: bool = False  # fast_rmsnorm's add + norm equals eager here (checked at start-up)
    qk_norm: bool = False  # Qwen3-VL: each query and key head RMS-normed before the rotary
    attention: Any = None  # transformers' attention function of the model's implementation (exact prefill)
    # The ``rows`` style's q/k/v, gate/up/SiLU and head as fast_gemv's *_many kernels with these block shapes
    # (set by for_rows only); None: cuBLAS.
    many_configs: fast_gemv.ManyConfigs | None = None

    @classmethod
    def of(cls, model: Any, kernels: bool = False) -> TextModel:
        language = model.model.language_model
        config = language.config
        heads = config.num_attention_heads
        silu = config.hidden_act == "silu"
        gemv = fast_gemv.plan_for(language.layers[0], model.lm_head) if kernels and silu else fast_gemv.GemvPlan()
        one_launch_norm = kernels and fast_rmsnorm.equals_eager(language.norm)
        log.info("one-launch RMS norm equal to eager here: %s", one_launch_norm)
        return cls(
            embed=language.embed_tokens,
            layers=language.layers,
            norm=language.norm,
            rotary=language.rotary_emb,
            head=model.lm_head,
            kv_heads=config.num_key_value_heads,
            heads=heads,
            head_dim=getattr(config, "head_dim", None) or config.hidden_size // heads,
            kernels=kernels,
            silu=silu,
            gemv=gemv,
            one_launch_norm=one_launch_norm,
            qk_norm=hasattr(language.layers[0].self_attn, "q_norm"),
            attention=_attention_function(config, language.layers[0].self_attn),
        )

    @property
    def many_products(self) -> bool:
        return self.many_configs is not None

    def for_rows(self, rows: int, fused: bool = True, configs: fast_gemv.ManyConfigs | None = None) -> TextModel:
        """This model for a runner of ``rows`` rows in the ``rows`` style (the fleet's decode step, whose rows
        are fixed per engine): with the many-row fused products where ``fused`` asks for them and they apply
        (the Triton kernels on, SiLU, at most fast_gemv.MANY_ROWS rows, projections they take); else as is.
        ``configs``: their block shapes (default fast_gemv.ManyConfigs(); the bits do not depend on them)."""
        many = (
            fused
            and self.kernels
            and self.silu
            and rows <= fast_gemv.MANY_ROWS
            and fast_gemv.takes_many(self.layers[0], self.head)
        )
        log.info("%d-row products: %s", rows, "fused many-row kernels" if many else "cuBLAS")
        return dataclasses.replace(self, many_configs=(configs or fast_gemv.ManyConfigs()) if many else None)

    def _many(self, x: torch.Tensor, style: Style) -> fast_gemv.ManyConfigs | None:
        # The block shapes where the many-row products run: for_rows' decision and a shape check (a tensor of more
        # rows, never the decode step's, stays cuBLAS).
        if style == "rows" and x.numel() <= fast_gemv.MANY_ROWS * x.shape[-1]:
            return self.many_configs
        return None

    # -- the pieces a layer is made of, in each style ------------------------------------------------

    def add_norm(
        self, module: Any, residual: torch.Tensor, delta: torch.Tensor | None, style: Style
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The residual stream plus ``delta``, and its RMS norm by ``module``."""
        if style == "row" and self.one_launch_norm:
            return fast_rmsnorm.add_rms_norm_row(residual, delta, module.weight, module.variance_epsilon)
        if style == "rows":
            return add_rms_norm_rows(module, residual, delta, self.kernels)
        return add_rms_norm(module, residual, delta, self.kernels)

    def project(self, attn: Any, normed: torch.Tensor, style: Style) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k, v as (batch, tokens, heads, head_dim), q and k normed per head where the model does (Qwen3-VL)."""
        if style == "row" and self.gemv.qkv is not None:
            q, k, v = fast_gemv.qkv(normed, attn, self.gemv.qkv)
        elif many := self._many(normed, style):
            q, k, v = fast_gemv.qkv_many(normed, attn, many.qkv)
        else:
            q, k, v = attn.q_proj(normed), attn.k_proj(normed), attn.v_proj(normed)
        shape = (*normed.shape[:-1], -1, self.head_dim)
        q, k, v = q.view(shape), k.view(shape), v.view(shape)
        if self.qk_norm:
            q, k = self.head_norm(attn.q_norm, q), self.head_norm(attn.k_norm, k)
        return q, k, v

    def head_norm(self, module: Any, x: torch.Tensor) -> torch.Tensor:
        """Qwen3-VL's RMS norm over each head: exact in every style (PyTorch's mean over the same tensor)."""
        if self.kernels:
            return fast_kernels.rms_norm(x, module.weight, module.variance_epsilon)
        return module(x)

    def mlp(self, module: Any, x: torch.Tensor, style: Style) -> torch.Tensor:
        """The MLP block; SiLU and its product in one launch on CUDA (bit for bit eager's)."""
        if style == "row" and self.kernels and self.silu and self.gemv.gate_up:
            return module.down_proj(fast_gemv.gate_up_silu(x, module.gate_proj.weight, module.up_proj.weight))
        if many := self._many(x, style):  # for_rows checked kernels and SiLU
            up = fast_gemv.gate_up_silu_many(x, module.gate_proj.weight, module.up_proj.weight, many.gate_up)
            return module.down_proj(up)
        if not (self.kernels and self.silu):
            return module(x)
        return module.down_proj(fast_kernels.silu_mul(module.gate_proj(x), module.up_proj(x)))

    def last_logits(
        self, residual: torch.Tensor, delta: torch.Tensor | None, style: Style, last: torch.Tensor | None = None
    ) -> torch.Tensor:
        """float32 logits of each row's last token (its position ``last[row]``, else the final one): (rows, vocab).

        ``exact`` normalizes every position as transformers does (a many-row mean sums in another
        order than a one-row mean) and applies the head to the final one.
        """
        if style == "row":
            _, normed = self.add_norm(self.norm, residual, delta, style)
            if self.gemv.head:
                return fast_gemv.head_logits(normed[:, -1, :], self.head.weight).view(1, -1)
            return self.head(normed[:, -1:, :])[:, -1, :].float()
        if style == "exact":
            _, normed = self.add_norm(self.norm, residual, delta, style)
            return self.head(normed[:, -1:, :])[:, -1, :].float()
        if last is not None:
            picked = torch.arange(residual.shape[0], device=residual.device)
            residual = residual[picked, last].unsqueeze(1)
            delta = None if delta is None else delta[picked, last].unsqueeze(1)
        _, normed = self.add_norm(self.norm, residual, delta, style)
        if many := self._many(normed[:, -1, :], style):
            return fast_gemv.head_logits_many(normed[:, -1, :], self.head.weight, many.head)
        return self.head(normed[:, -1:, :])[:, -1, :].float()


def _attention_function(config: Any, attn: Any) -> Any:
    """transformers' attention function for ``config``'s implementation (sdpa), or None where the engine calls
    SDPA itself (eager and flash-attention models: their masks and kernels are not what the engine replays)."""
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return None
    try:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    except ImportError:  # pragma: no cover - every transformers 5 has it
        return None
    return ALL_ATTENTION_FUNCTIONS.get("sdpa")


# -- a layer, in two halves ----------------------------------------------------------------------------


def before_attention(
    text: TextModel, number: int, residual: torch.Tensor, delta: torch.Tensor | None, style: Style
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The residual stream entering layer ``number`` (``residual + delta``) and the layer's q, k, v."""
    layer = text.layers[number]
    residual, normed = text.add_norm(layer.input_layernorm, residual, delta, style)
    q, k, v = text.project(layer.self_attn, normed, style)
    return residual, q, k, v


def after_attention(
    text: TextModel, number: int, residual: torch.Tensor, out: torch.Tensor, style: Style
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rest of layer ``number`` after its attention ``out`` (batch, tokens, heads * head_dim): output
    projection, residual, MLP. Returns the residual stream and the MLP's output not yet added to it."""
    layer = text.layers[number]
    residual, normed = text.add_norm(layer.post_attention_layernorm, residual, layer.self_attn.o_proj(out), style)
    return residual, text.mlp(layer.mlp, normed, style)


@dataclass(frozen=True)
class Deepstack:
    """Qwen3-VL's DeepStack: ``features[i]`` is added to the image positions' hidden states after layer i.

    ``mask`` is (batch, tokens) True at image positions; the features' rows follow the mask's True
    positions in row-major order (transformers' ``hidden[mask] + features``, in bf16).
    """

    mask: torch.Tensor
    features: Sequence[torch.Tensor]

    def add(self, hidden: torch.Tensor, number: int) -> torch.Tensor:
        return hidden.index_put((self.mask,), hidden[self.mask] + self.features[number].to(hidden.dtype))


def run_layers(
    text: TextModel, hidden: torch.Tensor, attend: Attend, style: Style, deepstack: Deepstack | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Every layer over ``hidden`` (batch, tokens, hidden), ``attend`` between the halves.

    Returns the residual stream and the last MLP's output not yet added (the final norm adds it).
    """
    residual, delta = hidden, None
    for number in range(len(text.layers)):
        residual, q, k, v = before_attention(text, number, residual, delta, style)
        residual, delta = after_attention(text, number, residual, attend(number, q, k, v), style)
        if deepstack is not None and number < len(deepstack.features):
            residual, delta = deepstack.add(residual + delta, number), None
    return residual, delta
