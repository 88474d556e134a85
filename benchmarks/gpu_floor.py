"""The physical floor of one agent step: the model's FLOPs and bytes over this GPU's measured rates.

Two ceilings are measured in the same run (a large bf16 matrix product; a large
device-to-device copy counting bytes read plus written). Each phase's floor is the larger
of its compute time and its memory time:

- vision tower: the FLOPs of its matrix products and attention (weights are tiny next to that);
- prefill: 2 x language parameters x prompt tokens, plus attention, against reading the weights once;
- one decode step: reading every language weight once (the head included, the embedding
  table not: one row of it is read) and the KV cache so far.

The step floor is vision + prefill + (new tokens - 1) x decode: the first token comes out
of prefill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BF16 = 2


@dataclass(frozen=True)
class Ceilings:
    matmul_tflops: float
    copy_tbps: float  # bytes read + written per second, in TB/s


@dataclass(frozen=True)
class Floor:
    vision_ms: float
    prefill_ms: float  # language prefill alone
    decode_ms: float  # one token, at the end of the answer (largest cache)
    first_token_ms: float
    step_ms: float


def measure_ceilings(repeats: int = 10) -> Ceilings:
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    matmul_ms = _median_ms(lambda: a @ b, repeats)
    source = torch.randn(2**29, device="cuda", dtype=torch.float16)  # 1 GiB
    target = torch.empty_like(source)
    copy_ms = _median_ms(lambda: target.copy_(source), repeats)
    moved = 2 * source.numel() * source.element_size()
    return Ceilings(matmul_tflops=2 * 8192**3 / matmul_ms / 1e9, copy_tbps=moved / copy_ms / 1e9)


def _median_ms(work: Any, repeats: int) -> float:
    import torch

    for _ in range(3):
        work()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        work()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def vision_flops(config: Any, patches: int, window_tokens: int, images: int = 1) -> float:
    """Matrix-product FLOPs of the vision tower for ``patches`` patches in ``images`` equal images.

    Qwen2.5-VL: gated MLPs (three products), windowed attention but in its full-attention blocks;
    Qwen3-VL: two-product MLPs, full attention within each image in every block, a merger per
    DeepStack level besides the final one.
    """
    v = config.vision_config
    c, inner = v.hidden_size, v.intermediate_size
    deepstack = len(getattr(v, "deepstack_visual_indexes", None) or ())
    mlp_products = 2 if deepstack else 3
    per_block = 2 * patches * (c * 3 * c + c * c + mlp_products * c * inner)
    full = v.depth if deepstack else len(v.fullatt_block_indexes)
    attention = 4 * patches * c * (full * patches // images + (v.depth - full) * window_tokens)
    embed = 2 * patches * (v.in_channels * v.temporal_patch_size * v.patch_size**2) * c
    merged = patches // v.spatial_merge_size**2
    wide = c * v.spatial_merge_size**2
    merger = 2 * merged * (wide * wide + wide * v.out_hidden_size) * (1 + deepstack)
    return v.depth * per_block + attention + embed + merger


def language_weights(config: Any) -> tuple[int, int]:
    """(parameters used per token in matrix products, bytes read per decode step) of the language model."""
    t = config.text_config
    h, inner, layers = t.hidden_size, t.intermediate_size, t.num_hidden_layers
    head_dim = getattr(t, "head_dim", None) or h // t.num_attention_heads
    q, kv = t.num_attention_heads * head_dim, t.num_key_value_heads * head_dim
    per_layer = 2 * h * q + 2 * h * kv + 3 * h * inner
    matrices = layers * per_layer + t.vocab_size * h  # the head (tied or not, it is read each step)
    norms = (2 * layers + 1) * h
    return matrices, (matrices + norms + h) * BF16  # + one embedding row


def step_floor(config: Any, ceilings: Ceilings, prompt: int, patches: int, new_tokens: int, images: int = 1) -> Floor:
    t = config.text_config
    window = (getattr(config.vision_config, "window_size", 0) // config.vision_config.patch_size) ** 2
    rate = ceilings.matmul_tflops * 1e12
    bandwidth = ceilings.copy_tbps * 1e12
    vision_ms = vision_flops(config, patches, window, images) / rate * 1e3
    params, weight_bytes = language_weights(config)
    head_dim = getattr(t, "head_dim", None) or t.hidden_size // t.num_attention_heads
    attention = 2 * t.num_hidden_layers * prompt * prompt * t.num_attention_heads * head_dim  # causal QK^T and PV
    prefill_flops = 2 * (params - t.vocab_size * t.hidden_size) * prompt + 2 * t.vocab_size * t.hidden_size + attention
    prefill_ms = max(prefill_flops / rate, weight_bytes / bandwidth) * 1e3
    cache_bytes = 2 * t.num_hidden_layers * t.num_key_value_heads * head_dim * (prompt + new_tokens) * BF16
    decode_ms = (weight_bytes + cache_bytes) / bandwidth * 1e3
    first = vision_ms + prefill_ms
    return Floor(
        vision_ms=vision_ms,
        prefill_ms=prefill_ms,
        decode_ms=decode_ms,
        first_token_ms=first,
        step_ms=first + (new_tokens - 1) * decode_ms,
    )
