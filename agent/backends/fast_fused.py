"""The decode step with fused kernels: one compiled decoder layer, reused by every layer.

With the step already a CUDA graph, what is left above the weight-reading floor is the
number of small kernels (norms, rotary, activations: ~40 per layer in eager PyTorch).
Here the layer is written as one function of plain tensors and compiled once with
``torch.compile`` (Triton kernels for the element-wise parts); since every layer has the
same shapes, the 28 (or 36) layers share one compilation. The q/k/v projections and the
gate/up projections each become one matrix-vector product over concatenated weights.

Fused kernels round differently from eager PyTorch, so greedy tokens can differ from
``generate``'s on near-ties; the exact mode (fast_decode) is the default for that reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerWeights:
    input_norm: torch.Tensor
    qkv: torch.Tensor
    qkv_bias: torch.Tensor
    output: torch.Tensor
    post_norm: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor


def _concatenate_into(modules: list[Any], name: str) -> torch.Tensor:
    """One tensor holding the modules' ``name`` tensors end to end; the modules then use views of it.

    The values do not change and no second copy stays alive: transformers' own forward keeps
    working on the views, with the same results.
    """
    parts = [getattr(module, name) for module in modules]
    fused = torch.cat([p.detach() for p in parts])
    offset = 0
    for part in parts:
        rows = part.shape[0]
        part.data = fused[offset:offset + rows]
        offset += rows
    return fused


def fuse_layer_weights(layers: Any) -> list[LayerWeights]:
    """Per layer: the concatenated projection weights (the model's parameters become views of them)."""
    fused = []
    with torch.no_grad():
        for layer in layers:
            attn, mlp = layer.self_attn, layer.mlp
            projections = [attn.q_proj, attn.k_proj, attn.v_proj]
            fused.append(LayerWeights(
                input_norm=layer.input_layernorm.weight.detach(),
                qkv=_concatenate_into(projections, "weight"),
                qkv_bias=_concatenate_into(projections, "bias"),
                output=attn.o_proj.weight.detach(),
                post_norm=layer.post_attention_layernorm.weight.detach(),
                gate_up=_concatenate_into([mlp.gate_proj, mlp.up_proj], "weight"),
                down=mlp.down_proj.weight.detach(),
            ))
    return fused


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    variance = x.float().pow(2).mean(-1, keepdim=True)
    return weight * (x.float() * torch.rsqrt(variance + eps)).to(x.dtype)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def fused_layer(hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache_index: torch.Tensor,
                visible: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, input_norm: torch.Tensor,
                qkv_weight: torch.Tensor, qkv_bias: torch.Tensor, output: torch.Tensor, post_norm: torch.Tensor,
                gate_up: torch.Tensor, down: torch.Tensor, eps: float, heads: int, kv_heads: int, head_dim: int,
                scale: float) -> torch.Tensor:
    """One decoder layer for one token over a fixed-length cache (compiled once, used by every layer).

    Plain tensors only (weights too), so that one compilation serves every layer.
    """
    x = _rms_norm(hidden, input_norm, eps)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    q, k, v = qkv.split([heads * head_dim, kv_heads * head_dim, kv_heads * head_dim], dim=-1)
    q = q.view(1, 1, heads, head_dim).transpose(1, 2)
    k = k.view(1, 1, kv_heads, head_dim).transpose(1, 2)
    v = v.view(1, 1, kv_heads, head_dim).transpose(1, 2)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    q = q * c + _rotate_half(q) * s
    k = k * c + _rotate_half(k) * s
    keys.index_copy_(2, cache_index, k)
    values.index_copy_(2, cache_index, v)
    grouped = q.reshape(1, kv_heads, heads // kv_heads, head_dim)
    out = F.scaled_dot_product_attention(grouped, keys, values, attn_mask=visible, scale=scale)
    hidden = hidden + F.linear(out.reshape(1, 1, -1), output)
    x = _rms_norm(hidden, post_norm, eps)
    gate, up = F.linear(x, gate_up).chunk(2, dim=-1)
    return hidden + F.linear(F.silu(gate) * up, down)


class FusedLayers:
    """The compiled layer and every layer's weights, ready for the decode step."""

    def __init__(self, layers: Any, eps: float, heads: int, kv_heads: int, head_dim: int, scale: float) -> None:
        self.weights = fuse_layer_weights(layers)
        self.shape = (eps, heads, kv_heads, head_dim, scale)
        self.layer = torch.compile(fused_layer, fullgraph=True, dynamic=False)

    def __call__(self, number: int, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor,
                 cache_index: torch.Tensor, visible: torch.Tensor, keys: torch.Tensor,
                 values: torch.Tensor) -> torch.Tensor:
        w = self.weights[number]
        return self.layer(hidden, cos, sin, cache_index, visible, keys, values, w.input_norm, w.qkv, w.qkv_bias,
                          w.output, w.post_norm, w.gate_up, w.down, *self.shape)

    @classmethod
    def of(cls, text: Any) -> FusedLayers:
        config = text.layers[0].self_attn.config
        return cls(text.layers, float(config.rms_norm_eps), text.heads, text.kv_heads, text.head_dim,
                   float(text.layers[0].self_attn.scaling))
