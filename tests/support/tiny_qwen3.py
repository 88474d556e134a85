"""A tiny random Qwen3-VL saved to disk, loadable through the real ``from_pretrained`` path.

The sibling of tiny_qwen.py (same tokenizer and chat template) with Qwen3-VL's
own structure at toy sizes: 16-pixel patches merged 2x2 (so frames are
multiples of 32), interleaved 3-D rotary sections, a deepstack layer, learned
vision position embeddings. Its config.json says ``model_type: qwen3_vl``, which
is how the registry (tools/models.py) recognises a Qwen3-VL directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.tiny_qwen import CHAT_TEMPLATE, TinyQwenSpec, build_tokenizer


@dataclass(frozen=True)
class TinyQwen3Spec:
    """Toy sizes; ``mrope_sections`` must sum to head_dim / 2."""

    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    head_dim: int = 16
    intermediate_size: int = 128
    mrope_sections: tuple[int, int, int] = (2, 3, 3)
    vision_depth: int = 2
    vision_hidden: int = 32
    vision_heads: int = 2
    vision_intermediate: int = 64
    patch_size: int = 16
    merge_size: int = 2
    # Qwen3-VL's own preprocessor_config.json: size.shortest_edge 65536, size.longest_edge 16777216. A
    # server of this model resizes as the real checkpoint's would (the frame check counts on it).
    min_pixels: int = 64 * 32 * 32
    max_pixels: int = 16384 * 32 * 32
    seed: int = 0


def build_config(spec: TinyQwen3Spec, tokenizer: Any) -> Any:
    from transformers import Qwen3VLConfig

    token_id = tokenizer.convert_tokens_to_ids
    if 2 * sum(spec.mrope_sections) != spec.head_dim:
        raise ValueError(f"mrope sections {spec.mrope_sections} must sum to head_dim/2 = {spec.head_dim // 2}")
    return Qwen3VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.layers,
            "num_attention_heads": spec.heads,
            "num_key_value_heads": spec.kv_heads,
            "head_dim": spec.head_dim,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5000000.0,
                "mrope_section": list(spec.mrope_sections),
                "mrope_interleaved": True,
            },
            "bos_token_id": token_id("<|endoftext|>"),
            "eos_token_id": token_id("<|im_end|>"),
            "pad_token_id": token_id("<|endoftext|>"),
        },
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_hidden,
            "intermediate_size": spec.vision_intermediate,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "patch_size": spec.patch_size,
            "spatial_merge_size": spec.merge_size,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [0],
        },
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
    )


def build_processor(spec: TinyQwen3Spec, tokenizer: Any) -> Any:
    from transformers import Qwen2VLImageProcessor, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    size = {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels}
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size, patch_size=spec.patch_size, merge_size=spec.merge_size),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


def save_tiny_qwen3(directory: Path | str, spec: TinyQwen3Spec = TinyQwen3Spec()) -> Path:
    """Build the tiny Qwen3-VL, its tokenizer and processor, and save them all to ``directory``."""
    import torch
    from transformers import GenerationConfig, Qwen3VLForConditionalGeneration

    directory = Path(directory)
    tokenizer = build_tokenizer(TinyQwenSpec())
    torch.manual_seed(spec.seed)
    model = Qwen3VLForConditionalGeneration(build_config(spec, tokenizer)).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    model.save_pretrained(directory)
    build_processor(spec, tokenizer).save_pretrained(directory)
    return directory


def tiny_qwen3_for_session(tmp_path_factory: Any) -> Path:
    """The tiny Qwen3-VL in the session's base temp directory, built once (elsewhere, then renamed into place)."""
    target = Path(tmp_path_factory.getbasetemp()) / "tiny-qwen3-vl"
    if not target.is_dir():
        save_tiny_qwen3(tmp_path_factory.mktemp("tiny-qwen3-build")).rename(target)
    return target
