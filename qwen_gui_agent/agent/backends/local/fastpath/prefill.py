"""The prefill of one conversation through the engine's model, bit for bit ``generate``'s first forward.

The layers are model.py's halves in the ``exact`` style; between them each layer's query and key
are rotated as transformers rotates them, its keys and values are written straight into the
static cache the decode step reads (no dynamic cache to copy afterwards), and attention is
transformers' own attention function on the fresh keys and values: no mask, causal, as the
first forward of ``generate`` calls it for an unpadded row. Qwen3-VL's DeepStack features are
added after the first layers (model.Deepstack). The first token's logits come from the final
norm over every position and the head on the last one, as transformers computes them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .model import Deepstack, TextModel, apply_rope, run_layers


def image_positions(input_ids: torch.Tensor, image_token_id: int, features: Sequence[torch.Tensor]) -> Deepstack | None:
    """DeepStack for a prompt whose image tokens take ``features`` (one tensor per level), or None without them."""
    if not features:
        return None
    return Deepstack(mask=input_ids == image_token_id, features=tuple(features))


@torch.inference_mode()
def prefill(
    text: TextModel,
    embeds: torch.Tensor,
    positions: torch.Tensor,
    keys: Sequence[torch.Tensor],
    values: Sequence[torch.Tensor],
    deepstack: Deepstack | None = None,
) -> torch.Tensor:
    """float32 logits (1, vocab) of the prompt's last token; its keys and values into ``keys``/``values`` slots 0..L-1.

    ``embeds`` is (1, L, hidden) (image tokens already replaced by the tower's output), ``positions``
    (3, 1, L) on the model's device, the caches per layer (1, kv_heads, capacity, head_dim).
    """
    cos, sin = text.rotary(embeds, positions)
    length = embeds.shape[1]

    def attend(number: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        attn = text.layers[number].self_attn
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        q, k = apply_rope(q, k, cos, sin)
        # transformers' dynamic cache hands attention a contiguous copy (torch.cat onto an empty cache): so here.
        k, v = k.contiguous(), v.contiguous()
        keys[number][:, :, :length].copy_(k)
        values[number][:, :, :length].copy_(v)
        if text.attention is not None:  # the function the model's own layer calls, with generate's arguments
            out, _ = text.attention(attn, q, k, v, None, dropout=0.0, scaling=attn.scaling)
        else:
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=0.0, scale=attn.scaling, is_causal=length > 1, enable_gqa=text.heads != text.kv_heads
            ).transpose(1, 2)
        return out.reshape(1, length, -1)

    residual, delta = run_layers(text, embeds, attend, "exact", deepstack)
    return text.last_logits(residual, delta, "exact")
