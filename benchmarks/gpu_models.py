"""Full-size Qwen2.5-VL and Qwen3-VL models with random weights, the real Qwen tokenizer, and benchmark inputs.

Random weights time exactly like real ones (same shapes, same kernels); decode lengths are
forced so the answer's content does not matter. The tokenizer is Qwen's own BPE
(qwen.tiktoken, 151,643 ranks) converted by transformers' TikTokenConverter, with the
special tokens from id 151643 on, so prompt token counts are realistic.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

QWEN_SPECIAL_TOKENS = (
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
    "<tool_call>",
    "</tool_call>",
)
FIRST_SPECIAL_ID = 151643
# Where the benchmarks look for Qwen's BPE file (qwen.tiktoken) when --tiktoken is not given.
TIKTOKEN_PLACES = (Path(".gpu_assets/qwen.tiktoken"), Path("../shared/data/qwen.tiktoken"))
QWEN_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "num_heads": 16,
    "intermediate_size": 3420,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "in_chans": 3,
    "hidden_act": "silu",
    "tokens_per_second": 2,
}
TEXT = {
    "3b": {
        "hidden_size": 2048,
        "num_hidden_layers": 36,
        "num_attention_heads": 16,
        "num_key_value_heads": 2,
        "intermediate_size": 11008,
        "vocab_size": 151936,
        "tie_word_embeddings": True,
    },
    "7b": {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
        "intermediate_size": 18944,
        "vocab_size": 152064,
        "tie_word_embeddings": False,
    },
}


# Qwen3-VL's dense sizes as their checkpoints' config.json give them (vision: 27 blocks for 8B/32B, 24 for 2B/4B).
QWEN3_VISION = {
    "large": {"depth": 27, "hidden_size": 1152, "intermediate_size": 4304, "deepstack_visual_indexes": [8, 16, 24]},
    "small": {"depth": 24, "hidden_size": 1024, "intermediate_size": 4096, "deepstack_visual_indexes": [5, 11, 17]},
}
QWEN3_TEXT = {
    "2b": {
        "hidden_size": 2048,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "intermediate_size": 6144,
        "tie_word_embeddings": True,
        "vision": "small",
    },
    "4b": {
        "hidden_size": 2560,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "intermediate_size": 9728,
        "tie_word_embeddings": True,
        "vision": "small",
    },
    "8b": {
        "hidden_size": 4096,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "intermediate_size": 12288,
        "tie_word_embeddings": False,
        "vision": "large",
    },
    "32b": {
        "hidden_size": 5120,
        "num_hidden_layers": 64,
        "num_attention_heads": 64,
        "intermediate_size": 25600,
        "tie_word_embeddings": False,
        "vision": "large",
    },
}
FAMILIES = ("qwen2.5", "qwen3")
PATCH = {"qwen2.5": 14, "qwen3": 16}  # pixels per patch side; frames are multiples of twice that


def model_config(size: str, family: str = "qwen2.5") -> Any:
    if family == "qwen3":
        return qwen3_config(size)
    from transformers import Qwen2_5_VLConfig

    text = dict(TEXT[size])
    tied = text.pop("tie_word_embeddings")
    text.update(
        {
            "max_position_embeddings": 128000,
            "rms_norm_eps": 1e-6,
            "hidden_act": "silu",
            "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]},
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "pad_token_id": 151643,
            "tie_word_embeddings": tied,
        }
    )
    vision = dict(VISION, out_hidden_size=text["hidden_size"])
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=tied,
    )


def qwen3_config(size: str) -> Any:
    from transformers import Qwen3VLConfig

    text = dict(QWEN3_TEXT[size])
    tied = text.pop("tie_word_embeddings")
    vision = dict(
        QWEN3_VISION[text.pop("vision")],
        num_heads=16,
        patch_size=16,
        spatial_merge_size=2,
        temporal_patch_size=2,
        in_channels=3,
        hidden_act="gelu_pytorch_tanh",
        num_position_embeddings=2304,
        out_hidden_size=text["hidden_size"],
    )
    text.update(
        {
            "num_key_value_heads": 8,
            "head_dim": 128,
            "vocab_size": 151936,
            "max_position_embeddings": 262144,
            "rms_norm_eps": 1e-6,
            "hidden_act": "silu",
            "attention_bias": False,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5000000.0,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "pad_token_id": 151643,
            "tie_word_embeddings": tied,
        }
    )
    return Qwen3VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=tied,
    )


def random_model(size: str, device: str = "cuda", attn: str = "sdpa", family: str = "qwen2.5") -> Any:
    """Random bf16 weights, initialized directly on ``device`` (no CPU round trip)."""
    import torch
    import transformers
    from transformers import GenerationConfig

    config = model_config(size, family)
    config._attn_implementation = attn
    model_class = getattr(
        transformers, "Qwen3VLForConditionalGeneration" if family == "qwen3" else "Qwen2_5_VLForConditionalGeneration"
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = model_class._from_config(config, dtype=torch.bfloat16, attn_implementation=attn)
    model.generation_config = GenerationConfig(eos_token_id=[151645, 151643], pad_token_id=151643)
    return model.eval()


def load_model(path: str, device: str = "cuda", attn: str = "sdpa") -> Any:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration.from_pretrained(
        path, dtype=torch.bfloat16, device_map=device, attn_implementation=attn
    ).eval()


def find_tiktoken(given: Path | None = None) -> Path | None:
    """``given``, else the first of TIKTOKEN_PLACES that exists; None when there is none."""
    return given or next((place for place in TIKTOKEN_PLACES if place.is_file()), None)


def qwen_tokenizer(tiktoken_file: Path, cache_dir: Path | None = None) -> Any:
    """Qwen's tokenizer from its BPE ranks; saved to ``cache_dir`` so the slow conversion runs once."""
    from transformers import AddedToken, PreTrainedTokenizerFast

    if cache_dir is not None and (cache_dir / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(cache_dir)
    from transformers.convert_slow_tokenizer import TikTokenConverter

    backend = TikTokenConverter(vocab_file=str(tiktoken_file), pattern=QWEN_SPLIT_PATTERN).converted()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    # The <|...|> tokens are special (dropped when decoding); <tool_call> tags are kept, as in Qwen's own.
    for token in QWEN_SPECIAL_TOKENS:
        tokenizer.add_tokens(
            [AddedToken(token, special=token.startswith("<|"), normalized=False)], special_tokens=token.startswith("<|")
        )
    ids = tokenizer.convert_tokens_to_ids(list(QWEN_SPECIAL_TOKENS))
    expected = list(range(FIRST_SPECIAL_ID, FIRST_SPECIAL_ID + len(QWEN_SPECIAL_TOKENS)))
    if ids != expected:
        raise RuntimeError(f"special token ids {ids} are not {expected}: is {tiktoken_file} Qwen's BPE file?")
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    if cache_dir is not None:
        tokenizer.save_pretrained(cache_dir)
    return tokenizer


def qwen_processor(tokenizer: Any, max_pixels: int, min_pixels: int | None = None, family: str = "qwen2.5") -> Any:
    """The family's processor: Qwen2.5-VL's (14-pixel patches, CLIP mean/std) or Qwen3-VL's (16, mean/std 0.5)."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    factor = 2 * PATCH[family]
    size = {"shortest_edge": min_pixels or 4 * factor * factor, "longest_edge": max_pixels}
    if family == "qwen3":
        from transformers import Qwen3VLProcessor
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

        image_processor = Qwen2VLImageProcessor(
            size=size, patch_size=16, merge_size=2, image_mean=[0.5] * 3, image_std=[0.5] * 3
        )
        return Qwen3VLProcessor(
            image_processor=image_processor, tokenizer=tokenizer, video_processor=Qwen3VLVideoProcessor()
        )
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size), tokenizer=tokenizer, video_processor=Qwen2VLVideoProcessor()
    )


SYSTEM_PROMPT = """You are a GUI agent. You see a screenshot of a computer and decide the next action.

# Tools

You may call one function to operate the computer.
<tools>
{"type": "function", "function": {"name": "computer_use", "description": "Operate the mouse and keyboard of a \
desktop computer. The screen's resolution is {W}x{H}.", \
"parameters": {"type": "object", "required": ["action"], "properties": {"action": {"type": "string", "enum": \
["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click", "double_click", \
"scroll", "wait", "terminate"], "description": "The action to perform."}, "keys": {"type": "array", \
"description": "Key names for action=key, such as ctrl, alt, shift, enter, esc."}, "text": {"type": "string", \
"description": "Text for action=type."}, "coordinate": {"type": "array", "description": "[x, y] for actions \
that point."}, "pixels": {"type": "number", "description": "Scroll amount for action=scroll."}, "time": \
{"type": "number", "description": "Seconds for action=wait."}, "status": {"type": "string", "enum": ["success", \
"failure"], "description": "Outcome for action=terminate."}}}}}
</tools>

For each function call, answer with a JSON object holding the function name and its arguments inside \
<tool_call></tool_call> tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>"""

USER_TASK = (
    "Book a train ticket from Beijing to Shanghai for tomorrow morning. "
    "Steps so far:\n1. left_click at [312, 88]\n2. type 'Beijing'\nWhat is the next action?"
)


def chat_text(frame: tuple[int, int]) -> str:
    """The rendered chat: system turn with the tool schema, user turn with one image and the task."""
    system = SYSTEM_PROMPT.replace("{W}", str(frame[0])).replace("{H}", str(frame[1]))
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<|vision_start|><|image_pad|>"
        f"<|vision_end|>{USER_TASK}<|im_end|>\n<|im_start|>assistant\n"
    )


def screenshot(width: int, height: int) -> Image.Image:
    """A desktop-like picture: title bar, side panel, text-like rows, buttons (content does not affect timing)."""
    image = Image.new("RGB", (width, height), (236, 239, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 40), fill=(45, 52, 64))
    draw.rectangle((0, 40, width // 5, height), fill=(216, 222, 233))
    for row in range(60, height - 40, 36):
        draw.rectangle(
            (width // 5 + 30, row, width // 5 + 30 + (row * 7919) % (width // 2), row + 14), fill=(76, 86, 106)
        )
    for column in range(width // 5 + 30, width - 140, 160):
        draw.rounded_rectangle((column, height - 90, column + 120, height - 50), radius=8, fill=(94, 129, 172))
    return image


HISTORY_ANSWERS = (
    "Thought: The booking page is open. I click the departure field first.\nAction: click(start_box='(312,88)')",
    "Thought: The field is focused, so I type the departure city.\nAction: type(content='Beijing')",
    "Thought: A list of stations appeared; Beijing South is the one I want.\nAction: click(start_box='(318,142)')",
    "Thought: Now the arrival field.\nAction: click(start_box='(512,88)')",
)


def uitars_chat(frame: tuple[int, int], screenshots: list[Image.Image], task: str = USER_TASK.split(". ")[0]) -> str:
    """The UI-TARS dialect's prompt (tools/dialects/uitars.py) with ``screenshots[:-1]`` as the recent steps' screens
    and the last as the current one, rendered as Qwen's ChatML (an image as vision_start + image_pad + vision_end)."""
    from qwen_gui_agent.tools.dialects import get_dialect
    from qwen_gui_agent.tools.dialects.base import HistoryStep, PromptContext
    from qwen_gui_agent.tools.frames import ModelFrame

    dialect = get_dialect("uitars", coordinates="absolute")
    model_frame = ModelFrame(width=frame[0], height=frame[1])
    history = [
        HistoryStep(answer=HISTORY_ANSWERS[n % len(HISTORY_ANSWERS)], image=image)
        for n, image in enumerate(screenshots[:-1])
    ]
    messages = dialect.build_messages(PromptContext(task=task, frame=model_frame), history, screenshots[-1])
    return render_chatml(messages)


def render_chatml(messages: list[Any]) -> str:
    """Messages as Qwen2.5-VL's chat template renders them (default system turn, images as vision pads)."""
    turns = ["<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"]
    for message in messages:
        parts = "".join(
            "<|vision_start|><|image_pad|><|vision_end|>" if not isinstance(part, str) else part
            for part in message.parts
        )
        turns.append(f"<|im_start|>{message.role}\n{parts}<|im_end|>\n")
    return "".join(turns) + "<|im_start|>assistant\n"
