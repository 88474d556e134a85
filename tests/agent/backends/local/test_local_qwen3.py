"""The local backend on a tiny random Qwen3-VL, loaded through the real from_pretrained path on CPU.

The directory's config.json says qwen3_vl: the registry picks the class, the
dialect, the 0..999 coordinates and smart_resize's factor 32 from it, and the
frame the model really saw (image_grid_thw x 16-pixel patches) is the frame
the agent computed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from qwen_gui_agent.agent.backends import BackendSettings, create_backend
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import resolve_model_settings
from qwen_gui_agent.tools.dialects import PromptContext, get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, resize_to_frame, smart_resize
from qwen_gui_agent.tools.messages import Message

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_qwen3 import tiny_qwen3_for_session

    return tiny_qwen3_for_session(tmp_path_factory)


@pytest.fixture(scope="module")
def qwen3_choice(tiny_qwen3_dir: Path):
    return resolve_model_settings(
        ModelFlags(model=str(tiny_qwen3_dir), source="local", torch_device="cpu", max_new_tokens=8), environ={}
    )


@pytest.fixture(scope="module")
def qwen3_backend(qwen3_choice):
    backend = create_backend(qwen3_choice.settings)
    yield backend
    backend.close()


def screen(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill="navy")
    return image


def test_the_directory_config_picks_the_qwen3_family(qwen3_choice) -> None:
    assert qwen3_choice.match is not None and qwen3_choice.match.family.name == "qwen3-vl"
    assert "model_type 'qwen3_vl'" in qwen3_choice.match.reason
    assert (qwen3_choice.dialect, qwen3_choice.coordinates) == ("qwen3", "relative")
    settings = qwen3_choice.settings
    assert (settings.patch_factor, settings.min_pixels, settings.max_pixels) == (32, 64 * 32 * 32, 1280 * 32 * 32)


def test_loaded_as_qwen3_vl(qwen3_backend) -> None:
    assert qwen3_backend.loaded.model_class == "Qwen3VLForConditionalGeneration"
    assert type(qwen3_backend.model).__name__ == "Qwen3VLForConditionalGeneration"
    assert qwen3_backend.processor.image_processor.patch_size == 16


@pytest.mark.parametrize(("width", "height"), [(1920, 1080), (1080, 2400), (333, 517), (2560, 1440)])
def test_frame_read_from_image_grid_is_smart_resize_at_factor_32(qwen3_backend, width: int, height: int) -> None:
    settings = qwen3_backend.settings
    frame = ModelFrame.for_screen(
        width,
        height,
        FrameBounds(min_pixels=settings.min_pixels, max_pixels=settings.max_pixels, factor=settings.patch_factor),
        relative=True,
        relative_scale=999,
    )
    completion = qwen3_backend.complete(
        [Message("user", ("Open the settings.", resize_to_frame(screen(width, height), frame)))]
    )
    expected_h, expected_w = smart_resize(
        height, width, factor=32, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels
    )
    assert completion.seen_frame == (expected_w, expected_h) == (frame.width, frame.height)
    assert expected_w % 32 == 0 and expected_h % 32 == 0
    # At Qwen2.5-VL's factor the same screen would be another size: the factor matters.
    assert smart_resize(height, width, factor=28, min_pixels=settings.min_pixels, max_pixels=settings.max_pixels) != (
        expected_h,
        expected_w,
    )


def test_qwen3_prompt_runs_and_garbage_is_a_parse_error(qwen3_backend, qwen3_choice) -> None:
    dialect = get_dialect(qwen3_choice.dialect, coordinates=qwen3_choice.coordinates)
    settings = qwen3_backend.settings
    frame = ModelFrame.for_screen(
        1280,
        800,
        FrameBounds(min_pixels=settings.min_pixels, max_pixels=settings.max_pixels, factor=32),
        relative=dialect.relative,
        relative_scale=dialect.relative_scale,
    )
    messages = dialect.build_messages(
        PromptContext(task="Book a flight", frame=frame), [], resize_to_frame(screen(1280, 800), frame)
    )
    completion = qwen3_backend.complete(messages)
    assert completion.seen_frame == (frame.width, frame.height)
    with pytest.raises(ActionParseError):
        dialect.parse(completion.text, frame)


def test_the_engine_serves_qwen3_vl_and_answers_as_plain_generate(tiny_qwen3_dir: Path) -> None:
    """The registry gives Qwen3-VL the engine (fast path and fleet): forced on here, it answers as generate does."""
    settings = BackendSettings(
        kind="local", model=str(tiny_qwen3_dir), source="local", torch_device="cpu", max_new_tokens=8
    )  # the frame bounds: the family's, from the registry
    frame = ModelFrame.for_screen(640, 480, settings.frame, relative=True, relative_scale=999)
    messages = [Message("user", ("Open the settings.", resize_to_frame(screen(640, 480), frame)))]
    answers = []
    for fast in (True, False):
        backend = create_backend(settings.model_copy(update={"fast": fast}))
        try:
            assert backend.loaded.family == "qwen3-vl" and backend.loaded.fast_path is True
            assert backend.fast is fast
            answers.append(backend.complete(messages))
        finally:
            backend.close()
    assert answers[0].text == answers[1].text and answers[0].usage == answers[1].usage
    assert answers[0].seen_frame == answers[1].seen_frame == (frame.width, frame.height)
    assert "vision" in answers[0].timings  # the engine's phase timings, not generate's


def test_a_family_the_engine_does_not_serve_falls_back_with_one_line(tmp_path_factory, caplog) -> None:
    from tests.support.tiny_qwen2_vl import tiny_qwen2_vl_for_session

    settings = BackendSettings(
        kind="local",
        model=str(tiny_qwen2_vl_for_session(tmp_path_factory)),
        source="local",
        torch_device="cpu",
        fast=True,
        max_new_tokens=2,
    )
    with caplog.at_level(logging.INFO, logger="qwen_gui_agent.agent.backends.local.backend"):
        backend = create_backend(settings)
    try:
        notes = [record.message for record in caplog.records if "fast path" in record.message]
        assert notes == [
            (
                "the CUDA fast path does not serve qwen2-vl (Qwen2VLForConditionalGeneration): it runs on "
                "transformers' generate"
            )
        ]
        assert backend.fast is False
        assert backend.complete([Message.text("user", "hi")]).usage.completion_tokens >= 1
    finally:
        backend.close()
