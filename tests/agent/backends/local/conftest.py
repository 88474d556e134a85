"""The tiny random Qwen2.5-VL and Qwen3-VL (tests/support/tiny_qwen*.py) loaded once on the CPU for the engine's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tests.support.tiny_qwen import tiny_qwen_for_session

    return tiny_qwen_for_session(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> tuple[Any, Any]:
    """(model, processor), float32 on the CPU, through the real from_pretrained path."""
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_dir).eval()
    return model, AutoProcessor.from_pretrained(tiny_dir)


@pytest.fixture(scope="session")
def tiny3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    from tests.support.tiny_qwen3 import tiny_qwen3_for_session

    return tiny_qwen3_for_session(tmp_path_factory)


@pytest.fixture(scope="session")
def tiny3(tiny3_dir: Path) -> tuple[Any, Any]:
    """The tiny random Qwen3-VL (tests/support/tiny_qwen3.py): (model, processor), float32 on the CPU."""
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    model = Qwen3VLForConditionalGeneration.from_pretrained(tiny3_dir).eval()
    return model, AutoProcessor.from_pretrained(tiny3_dir)


def noise_image(width: int, height: int, seed: int = 0) -> Any:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def chat(processor: Any, task: str = "Click the search button.") -> str:
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": task}]}]
    return processor.apply_chat_template(messages, add_generation_prompt=True)
