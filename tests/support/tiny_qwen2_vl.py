"""A tiny random Qwen2-VL (UI-TARS-1.0's base) saved to disk: a family the registry does not give the CUDA engine.

The sibling of tiny_qwen.py (same tokenizer, chat template and text sizes) with Qwen2-VL's own
vision tower (no windows, QuickGELU MLP). Its config.json says ``model_type: qwen2_vl``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.tiny_qwen import CHAT_TEMPLATE, TinyQwenSpec, build_tokenizer


def save_tiny_qwen2_vl(directory: Path | str, spec: TinyQwenSpec | None = None) -> Path:
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    directory = Path(directory)
    spec = spec or TinyQwenSpec()
    tokenizer = build_tokenizer(spec)
    token_id = tokenizer.convert_tokens_to_ids
    config = Qwen2VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads,
            "num_key_value_heads": spec.kv_heads,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1000000.0,
                "mrope_section": list(spec.mrope_sections),
            },
            "bos_token_id": token_id("<|endoftext|>"),
            "eos_token_id": token_id("<|im_end|>"),
            "pad_token_id": token_id("<|endoftext|>"),
        },
        vision_config={
            "depth": spec.vision_depth,
            "embed_dim": spec.vision_hidden,
            "hidden_size": spec.hidden_size,
            "num_heads": spec.vision_heads,
            "mlp_ratio": 2,
        },
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )
    torch.manual_seed(spec.seed)
    model = Qwen2VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[token_id("<|im_end|>"), token_id("<|endoftext|>")], pad_token_id=token_id("<|endoftext|>")
    )
    model.save_pretrained(directory)
    size = {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels}
    Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    ).save_pretrained(directory)
    return directory


def tiny_qwen2_vl_for_session(tmp_path_factory: Any) -> Path:
    """The tiny Qwen2-VL in the session's base temp directory, built once (elsewhere, then renamed into place)."""
    target = Path(tmp_path_factory.getbasetemp()) / "tiny-qwen2-vl"
    if not target.is_dir():
        save_tiny_qwen2_vl(tmp_path_factory.mktemp("tiny-qwen2-vl-build")).rename(target)
    return target
