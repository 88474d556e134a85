"""The decode step with fused kernels: one compiled decoder layer, reused by every layer.

With the step already a CUDA graph, what is left above the weight-reading floor is the
number of small kernels (norms, rotary, activations: ~40 per layer in eager PyTorch).
Here the layer is written as one function of plain tensors and compiled once with
``torch.compile`` (Triton kernels for the element-wise parts); since every layer has the
same shapes, the 28 (or 36) layers share one compilation. The weights stay the model's own
tensors (concatenating q/k/v and gate/up would save a few launches but needs either a second
copy of the weights or re-pointing the model's parameters, which breaks graphs captured earlier).

Fused kernels round differently from eager PyTorch, so greedy tokens can differ from
``generate``'s on near-ties; the exact mode (fast_decode) is the default for that reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerWeights:
    """One decoder layer's parameters as plain tensors (the model's own storage, no copies)."""

    input_norm: torch.Tensor
    q: torch.Tensor
    q_bias: torch.Tensor
    k: torch.Tensor
    k_bias: torch.Tensor
    v: torch.Tensor
    v_bias: torch.Tensor
    output: torch.Tensor
    post_norm: torch.Tensor
    gate: torch.Tensor
    up: torch.Tensor
    down: torch.Tensor

    @classmethod
    def of(cls, layer: Any) -> LayerWeights:
        attn, mlp = layer.self_attn, layer.mlp
        return cls(*(t.detach() for t in (
            layer.input_layernorm.weight, attn.q_proj.weight, attn.q_proj.bias, attn.k_proj.weight,
            attn.k_proj.bias, attn.v_proj.weight, attn.v_proj.bias, attn.o_proj.weight,
            layer.post_attention_layernorm.weight, mlp.gate_proj.weight, mlp.up_proj.weight, mlp.down_proj.weight)))

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    variance = x.float().pow(2).mean(-1, keepdim=True)
    return weight * (x.float() * torch.rsqrt(variance + eps)).to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def fused_layer(hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache_index: torch.Tensor,
                visible: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, input_norm: torch.Tensor,
                q_weight: torch.Tensor, q_bias: torch.Tensor, k_weight: torch.Tensor, k_bias: torch.Tensor,
                v_weight: torch.Tensor, v_bias: torch.Tensor, output: torch.Tensor, post_norm: torch.Tensor,
                gate: torch.Tensor, up: torch.Tensor, down: torch.Tensor, eps: float, heads: int, kv_heads: int,
                head_dim: int, scale: float) -> torch.Tensor:
    """One decoder layer for one token over a fixed-length cache (compiled once, used by every layer).

    Plain tensors only (weights too), so that one compilation serves every layer.
    """
    x = _rms_norm(hidden, input_norm, eps)
    q = F.linear(x, q_weight, q_bias).view(1, 1, heads, head_dim).transpose(1, 2)
    k = F.linear(x, k_weight, k_bias).view(1, 1, kv_heads, head_dim).transpose(1, 2)
    v = F.linear(x, v_weight, v_bias).view(1, 1, kv_heads, head_dim).transpose(1, 2)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    q = q * c + _rotate_half(q) * s
    k = k * c + _rotate_half(k) * s
    keys.index_copy_(2, cache_index, k)
    values.index_copy_(2, cache_index, v)
    grouped = q.reshape(1, kv_heads, heads // kv_heads, head_dim)
    out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=visible, scale=scale)
    hidden = hidden + F.linear(out.reshape(1, 1, -1), output)
    x = _rms_norm(hidden, post_norm, eps)
    return hidden + F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


class FusedLayers:
    """The compiled layer and every layer's weights, ready for the decode step."""

    def __init__(self, layers: Any, eps: float, heads: int, kv_heads: int, head_dim: int, scale: float) -> None:
        self.weights = [LayerWeights.of(layer) for layer in layers]
        self.shape = (eps, heads, kv_heads, head_dim, scale)
        self.layer = torch.compile(fused_layer, fullgraph=True, dynamic=False)

    def __call__(self, number: int, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 cache_index: torch.Tensor, visible: torch.Tensor, keys: torch.Tensor,
                 values: torch.Tensor) -> torch.Tensor:
        return self.layer(hidden, cos, sin, cache_index, visible, keys, values, *self.weights[number].tensors(),
                          *self.shape)

    @classmethod
    def of(cls, text: Any) -> FusedLayers:
        config = text.layers[0].self_attn.config
        return cls(text.layers, float(config.rms_norm_eps), text.heads, text.kv_heads, text.head_dim,
                   float(text.layers[0].self_attn.scaling))
