"""The local backend end to end on CPU: a tiny random Qwen2.5-VL loaded through from_pretrained."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from qwen_gui_agent.agent.backends import BackendSettings, BackendUnavailable, create_backend
from qwen_gui_agent.agent.backends.local.backend import chat_template_messages, seen_frame
from qwen_gui_agent.tools.dialects import PromptContext, get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, resize_to_frame, smart_resize
from qwen_gui_agent.tools.messages import Message

pytest.importorskip("torch")


def screenshot(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill="navy")
    return image


def frame_sized(width: int, height: int, settings: BackendSettings) -> tuple[ModelFrame, Image.Image]:
    frame = ModelFrame.for_screen(
        width, height, FrameBounds(min_pixels=settings.min_pixels, max_pixels=settings.max_pixels)
    )
    return frame, resize_to_frame(screenshot(width, height), frame)


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 2400), (333, 517)])
def test_frame_read_from_image_grid_equals_smart_resize(local_backend, width: int, height: int) -> None:
    settings = local_backend.settings
    frame, image = frame_sized(width, height, settings)
    completion = local_backend.complete([Message("user", ("Open the settings.", image))])

    expected_h, expected_w = smart_resize(height, width, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels)
    assert completion.seen_frame == (expected_w, expected_h) == (frame.width, frame.height)
    image_tokens = (expected_w // 28) * (expected_h // 28)
    assert completion.usage.prompt_tokens > image_tokens
    assert 1 <= completion.usage.completion_tokens <= settings.max_new_tokens
    assert set(completion.timings) >= {"preprocess", "first_token", "decode", "total"}
    assert all(value >= 0 for value in completion.timings.values())
    assert completion.timings["total"] >= completion.timings["preprocess"] + completion.timings["first_token"]
    assert completion.model == settings.model


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(8, 900), height=st.integers(8, 900))
def test_any_screen_size_is_seen_at_its_smart_resize_frame(local_backend, width: int, height: int) -> None:
    """Tiny screens scaled up to min_pixels, large ones down to max_pixels: the model sees our frame."""
    frame, image = frame_sized(width, height, local_backend.settings)
    completion = local_backend.complete([Message("user", ("Look.", image))], max_new_tokens=1)
    assert completion.seen_frame == (frame.width, frame.height)


def test_prompt_renders_through_the_chat_template(local_backend) -> None:
    _, image = frame_sized(1920, 1080, local_backend.settings)
    messages = [Message.text("system", "You operate a computer."), Message("user", ("Task: book a flight", image))]
    inputs, images = local_backend._preprocess(messages)

    assert images == [image]
    tokens = local_backend.processor.tokenizer.convert_ids_to_tokens(inputs["input_ids"][0].tolist())
    text = local_backend.processor.decode(inputs["input_ids"][0], skip_special_tokens=False)
    assert text.startswith("<|im_start|>system\nYou operate a computer.<|im_end|>\n<|im_start|>user\n")
    assert "Task: book a flight" in text
    assert text.endswith("<|im_start|>assistant\n")
    _, grid_h, grid_w = inputs["image_grid_thw"][0].tolist()
    assert tokens.count("<|image_pad|>") == grid_h * grid_w // 4  # 2x2 patches merged into one token


def test_greedy_decoding_is_repeatable(local_backend) -> None:
    _, image = frame_sized(800, 600, local_backend.settings)
    messages = [Message("user", ("Click OK.", image))]
    assert local_backend.complete(messages).text == local_backend.complete(messages).text


def test_max_new_tokens_caps_the_answer(local_backend) -> None:
    _, image = frame_sized(800, 600, local_backend.settings)
    completion = local_backend.complete([Message("user", ("Click OK.", image))], max_new_tokens=3)
    assert 1 <= completion.usage.completion_tokens <= 3


def test_text_only_conversation_has_no_frame(local_backend) -> None:
    completion = local_backend.complete([Message.text("user", "Say hello.")])
    assert completion.seen_frame is None
    assert completion.usage.completion_tokens >= 1


@pytest.mark.parametrize("dialect_name", ["qwen", "uitars"])
def test_garbage_answer_from_random_weights_is_a_parse_error(local_backend, dialect_name: str) -> None:
    dialect = get_dialect(dialect_name)
    frame, image = frame_sized(1920, 1080, local_backend.settings)
    messages = dialect.build_messages(PromptContext(task="Book a flight", frame=frame), [], image)
    completion = local_backend.complete(messages)

    assert completion.seen_frame == (frame.width, frame.height)
    with pytest.raises(ActionParseError) as caught:
        dialect.parse(completion.text, frame)
    assert caught.value.feedback().startswith("Your answer could not be used")


def test_unresized_screenshot_is_reported_as_a_different_frame(local_backend, caplog) -> None:
    """A screenshot the caller forgot to resize: the processor shrinks it, and the backend says so."""
    raw = screenshot(1920, 1080)
    with caplog.at_level(logging.WARNING, logger="qwen_gui_agent.agent.backends.local.backend"):
        completion = local_backend.complete([Message("user", ("Click OK.", raw))], max_new_tokens=2)
    assert completion.seen_frame != raw.size
    assert "coordinates will drift" in caplog.text


def test_chat_template_messages_keeps_images_in_order() -> None:
    first, second = Image.new("RGB", (28, 28)), Image.new("RGB", (56, 28))
    chat, images = chat_template_messages([Message.text("system", "sys"), Message("user", ("a", first, "b", second))])
    assert chat[0] == {"role": "system", "content": "sys"}
    assert chat[1]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "image"},
        {"type": "text", "text": "b"},
        {"type": "image"},
    ]
    assert images == [first, second]


def test_seen_frame_uses_the_last_image_grid() -> None:
    assert seen_frame([[1, 4, 6], [1, 52, 94]], 14) == (94 * 14, 52 * 14)
    assert seen_frame([], 14) is None
    assert seen_frame(None, 14) is None


def test_missing_local_directory_is_unavailable_with_a_hint(tmp_path: Path) -> None:
    settings = BackendSettings(kind="local", model=str(tmp_path / "nowhere"), source="local", torch_device="cpu")
    with pytest.raises(BackendUnavailable) as caught:
        create_backend(settings)
    assert "config.json" in str(caught.value)
    assert "--model" in caught.value.hint


def test_directory_without_weights_is_unavailable_with_a_hint(tiny_qwen_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "no-weights"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "processor_config.json"):
        if (tiny_qwen_dir / name).exists():
            shutil.copy(tiny_qwen_dir / name, broken / name)
    assert json.loads((broken / "config.json").read_text())["model_type"] == "qwen2_5_vl"
    settings = BackendSettings(kind="local", model=str(broken), torch_device="cpu")
    with pytest.raises(BackendUnavailable) as caught:
        create_backend(settings)
    assert "--backend openai" in caught.value.hint


def test_cuda_asked_for_without_a_gpu_is_unavailable(tiny_qwen_dir: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    settings = BackendSettings(kind="local", model=str(tiny_qwen_dir), torch_device="cuda")
    with pytest.raises(BackendUnavailable) as caught:
        create_backend(settings)
    assert "no CUDA GPU" in str(caught.value)
    assert "--torch-device cpu" in caught.value.hint


@pytest.fixture
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty Hugging Face cache with network use switched off."""
    from huggingface_hub import constants

    cache = tmp_path / "hub-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def test_hub_id_served_from_the_cache_without_network(offline_hub: Path, tiny_qwen_dir: Path) -> None:
    snapshot = offline_hub / "models--tiny-org--tiny-qwen" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_qwen_dir, snapshot)
    (offline_hub / "models--tiny-org--tiny-qwen" / "refs").mkdir()
    (offline_hub / "models--tiny-org--tiny-qwen" / "refs" / "main").write_text("0123abcd")

    backend = create_backend(
        BackendSettings(kind="local", model="tiny-org/tiny-qwen", torch_device="cpu", max_new_tokens=2)
    )
    try:
        assert backend.loaded.weights == str(snapshot)
        assert backend.complete([Message.text("user", "hi")]).usage.completion_tokens >= 1
    finally:
        backend.close()


def test_hub_id_not_cached_and_offline_is_unavailable(offline_hub: Path) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        create_backend(BackendSettings(kind="local", model="no-such-org/no-such-model", torch_device="cpu"))
    assert "no-such-org/no-such-model" in str(caught.value)
    assert "--source modelscope" in caught.value.hint
    assert "--backend openai" in caught.value.hint


@pytest.mark.parametrize("name", ["/no/such/dir", "./models/qwen", "~/nowhere/qwen", "a/b/c"])
def test_names_that_are_paths_are_not_sent_to_the_hub(name: str) -> None:
    with pytest.raises(BackendUnavailable, match="no such directory"):
        create_backend(BackendSettings(kind="local", model=name, torch_device="cpu"))
