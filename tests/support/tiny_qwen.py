"""A tiny random Qwen2.5-VL saved to disk, loadable through the real ``from_pretrained`` path.

The shapes follow the real model's structure (grouped-query attention, 3-D
rotary sections, a windowed vision tower with one full-attention block, 2x2
patch merging) at toy sizes, so preprocessing, the chat template, the vision
tower and ``generate`` all run for real on a CPU in well under a second per
step. The weights are random: answers are gibberish, which is the point of the
"garbage answer becomes a parse error" tests.

Used by tests/agent/backends and tests/agent/backends/local/fastpath: their session fixtures call
``tiny_qwen_for_session(tmp_path_factory)``, which builds it once for the whole run;
``save_tiny_qwen(directory)`` builds one anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Qwen2.5-VL special tokens, in the real vocabulary's order. The last two are
# ordinary added tokens in the real tokenizer: decoding keeps them.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
KEPT_ADDED_TOKENS = ("<tool_call>", "</tool_call>")

# Rendered like the real model's template: a default system turn, ChatML turns,
# each image as vision_start + one image_pad (the processor expands it) + vision_end.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message.role != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message.role }}\n"
    "{% if message.content is string %}{{ message.content }}"
    "{% else %}{% for part in message.content %}"
    "{% if part.type == 'image' or 'image' in part %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part.type == 'text' %}{{ part.text }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Enough text for the BPE trainer to learn merges that look like agent answers.
_CORPUS = (
    "Thought: I should click the blue Search button to continue.\nAction: click(start_box='(512,384)')\n",
    "Action: type(content='hello world\\n')\nAction: hotkey(key='ctrl c')\n",
    "Action: scroll(start_box='(500,500)', direction='down')\nAction: finished(content='done')\n",
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [640, 360]}}\n'
    "</tool_call>\n",
    "You are a helpful assistant. The screen's resolution is 1316x728. Book a flight from Beijing to Shanghai.\n",
)


@dataclass(frozen=True)
class TinyQwenSpec:
    """Toy sizes; ``mrope_sections`` must sum to head_dim / 2 (hidden / heads / 2)."""

    vocab_size: int = 512  # BPE tokens; the special tokens come after them
    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate_size: int = 128
    mrope_sections: tuple[int, int, int] = (2, 3, 3)
    vision_depth: int = 2
    vision_hidden: int = 32
    vision_heads: int = 2
    vision_intermediate: int = 64
    min_pixels: int = 4 * 28 * 28
    max_pixels: int = 1280 * 28 * 28
    seed: int = 0
    # Where the special tokens start. None: right after the BPE tokens (a small vocabulary). 151643 puts
    # them at the real Qwen2.5-VL ids, which ms-swift's qwen2_5_vl template hard-codes (<|image_pad|> is
    # 151655 there); the ids in between are filler entries no text ever tokenizes to.
    first_special_id: int | None = None


def build_tokenizer(spec: TinyQwenSpec):
    """A byte-level BPE trained on a few lines, plus the Qwen special tokens, as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AddedToken, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_CORPUS * 4, trainer=trainer)
    if spec.first_special_id is not None:
        backend = _with_filler(backend, spec.first_special_id)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS]}
    )
    tokenizer.add_tokens([AddedToken(token, special=False, normalized=False) for token in KEPT_ADDED_TOKENS])
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _with_filler(backend, first_special_id: int):
    """The BPE with unreachable vocabulary entries up to ``first_special_id`` (no merge ever produces them)."""
    import json

    from tokenizers import Tokenizer

    data = json.loads(backend.to_str())
    vocab = data["model"]["vocab"]
    for filler in range(len(vocab), first_special_id):
        vocab[f"<filler{filler}>"] = filler
    return Tokenizer.from_str(json.dumps(data))


def build_config(
    spec: TinyQwenSpec,
    tokenizer,
    *,
    rope_theta: float = 1000000.0,
    tie_word_embeddings: bool = False,
    full_attention_blocks: Sequence[int] | None = None,
):
    """The model's config; the keywords are what small_qwen.py changes (None: only the last vision block
    attends to the whole image, as in Qwen2.5-VL)."""
    from transformers import Qwen2_5_VLConfig

    tied = {"tie_word_embeddings": True} if tie_word_embeddings else {}
    full_attention = [spec.vision_depth - 1] if full_attention_blocks is None else list(full_attention_blocks)

    token_id = tokenizer.convert_tokens_to_ids
    head_dim = spec.hidden_size // spec.heads
    if 2 * sum(spec.mrope_sections) != head_dim:
        raise ValueError(f"mrope sections {spec.mrope_sections} must sum to head_dim/2 = {head_dim // 2}")
    return Qwen2_5_VLConfig(
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
                "rope_theta": rope_theta,
                "mrope_section": list(spec.mrope_sections),
            },
            "bos_token_id": token_id("<|endoftext|>"),
            "eos_token_id": token_id("<|im_end|>"),
            "pad_token_id": token_id("<|endoftext|>"),
            **tied,
        },
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_hidden,
            "intermediate_size": spec.vision_intermediate,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "window_size": 112,
            "fullatt_block_indexes": full_attention,
        },
        image_token_id=token_id("<|image_pad|>"),
        video_token_id=token_id("<|video_pad|>"),
        vision_start_token_id=token_id("<|vision_start|>"),
        vision_end_token_id=token_id("<|vision_end|>"),
        **tied,
    )


def build_processor(spec: TinyQwenSpec, tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels}
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


def save_tiny_qwen(directory: Path | str, spec: TinyQwenSpec = TinyQwenSpec()) -> Path:
    """Build the tiny model, its tokenizer and processor, and save them all to ``directory``."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    directory = Path(directory)
    tokenizer = build_tokenizer(spec)
    config = build_config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")],
        pad_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
    )
    model.save_pretrained(directory)
    build_processor(spec, tokenizer).save_pretrained(directory)
    return directory


def tiny_qwen_for_session(tmp_path_factory: Any) -> Path:
    """The tiny model in the session's base temp directory, built by the first caller and shared by all.

    Built elsewhere and renamed into place, so a build that failed halfway is never taken for a model.
    """
    target = Path(tmp_path_factory.getbasetemp()) / "tiny-qwen"
    if not target.is_dir():
        save_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen-build")).rename(target)
    return target
