"""The frame check against a real ``transformers serve`` of the tiny Qwen3-VL (patch 16, merged 2x2).

The tiny model keeps Qwen3-VL's own preprocessor bounds (65536..16777216 pixels), so the server
resizes exactly as one serving the real checkpoint would: the agent must count the screenshot's
tokens at factor 32 and send a twin the server keeps (256x256, 64 tokens) to see that the frame was
kept. Counting as for Qwen2.5-VL stopped such runs at step 1 ("no single resize explains that
count"). The weights are random: what is checked is the frame check's record, not the answer.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from qwen_gui_agent.agent.backends import create_backend
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import resolve_model_settings
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message
from tests.support.transformers_server import ServeUnavailable, TransformersServer, check_serving_installed

# The server's cold start plus a CPU generation on a busy machine: a guard against a hang, not a speed goal.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersServer]:
    from tests.support.tiny_qwen3 import tiny_qwen3_for_session

    try:
        check_serving_installed()
    except ServeUnavailable as missing:
        pytest.skip(str(missing))
    with TransformersServer(tiny_qwen3_for_session(tmp_path_factory)) as started:
        yield started


def test_a_qwen3_screenshot_is_counted_at_factor_32_and_the_frame_is_kept(server: TransformersServer) -> None:
    choice = resolve_model_settings(
        ModelFlags(model=server.model, base_url=server.base_url, max_new_tokens=4, max_retries=0, request_timeout=600),
        environ={},
    )
    assert (choice.dialect, choice.settings.patch_factor) == ("qwen3", 32)  # from the directory's config.json
    frame = ModelFrame.for_screen(1280, 800, choice.settings.frame)
    messages = [
        Message.text("system", "You operate a computer."),
        Message("user", ("Task: wait", Image.new("RGB", (frame.width, frame.height), "white"))),
    ]
    with create_backend(choice.settings) as backend:
        completion = backend.complete(messages)
    tokens = (frame.width // 32) * (frame.height // 32)
    assert completion.serving["image_tokens"] == completion.serving["server_image_tokens"] == tokens
    assert (completion.serving["frame_check"], completion.serving["server_frame"]) == (
        "kept",
        [frame.width, frame.height],
    )
