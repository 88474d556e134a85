"""The server-resize check for every model family, against a server that counts image tokens as vLLM does.

The loopback server (tests/support/model_server.py) counts each image after resizing it with the
served checkpoint's own preprocessor bounds and patch factor (Qwen2.5-VL: 28, 3136..12845056;
Qwen3-VL: 32, 65536..16777216), written out apart from the agent's registry. A family counted at
the wrong factor, or a twin that costs another number of tokens than assumed, shows as a false
"resized" or a run that stops at its first step.
"""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image

from qwen_gui_agent.agent.backends import create_backend
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import resolve_model_settings
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message
from qwen_gui_agent.tools.models import FAMILY_NAMES
from tests.support.model_server import ModelServer, TokenCounter

# A served name of each family, as users name them (the registry must know every family listed here).
EXAMPLES = {
    "gui-owl-1.5": "mPLUG/GUI-Owl-1.5-8B",
    "ui-tars-1.5": "ByteDance-Seed/UI-TARS-1.5-7B",
    "ui-tars-1.0": "bytedance-research/UI-TARS-7B-DPO",
    "qwen3.5": "Qwen/Qwen3.5-9B",
    "qwen3-vl": "Qwen/Qwen3-VL-8B-Instruct",
    "qwen2.5-vl": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen2-vl": "Qwen/Qwen2-VL-7B-Instruct",
}
SCREEN = (1920, 1080)
ANSWER = (
    "<tool_call>\n"
    + json.dumps({"name": "computer_use", "arguments": {"action": "wait", "time": 1}})
    + "\n</tool_call>"
)


def test_every_family_of_the_registry_has_an_example() -> None:
    assert sorted(EXAMPLES) == sorted(FAMILY_NAMES)


def ask_once(server: ModelServer, model: str):
    choice = resolve_model_settings(ModelFlags(model=model, base_url=server.base_url, max_retries=0), environ={})
    frame = ModelFrame.for_screen(*SCREEN, choice.settings.frame)
    messages = [
        Message.text("system", "You operate a computer."),
        Message("user", ("Task: wait", Image.new("RGB", (frame.width, frame.height), "white"))),
    ]
    with create_backend(choice.settings) as backend:
        return frame, backend.complete(messages)


@pytest.mark.parametrize("family", sorted(EXAMPLES))
def test_a_server_with_the_checkpoints_own_bounds_keeps_the_frame(family: str, caplog) -> None:
    with caplog.at_level(logging.WARNING), ModelServer([ANSWER], model=EXAMPLES[family]) as server:
        frame, completion = ask_once(server, EXAMPLES[family])
    assert completion.serving["frame_check"] == "kept"
    assert completion.serving["server_image_tokens"] == completion.serving["image_tokens"]
    assert completion.seen_frame == (frame.width, frame.height)
    assert len(server.calibrations) == 1  # one twin for the one size
    assert not [record for record in caplog.records if "resized" in record.getMessage()]


@pytest.mark.parametrize("family", ["qwen3-vl", "qwen2.5-vl"])
def test_a_server_with_a_smaller_cap_is_caught_in_the_familys_own_factor(family: str) -> None:
    model = EXAMPLES[family]
    base = TokenCounter.for_model(model)
    counter = TokenCounter(max_pixels=300 * base.factor**2, min_pixels=base.min_pixels, factor=base.factor)
    with ModelServer([ANSWER], model=model, counter=counter) as server:
        frame, completion = ask_once(server, model)
    served = counter.served_size(frame.width, frame.height)
    assert served != (frame.width, frame.height)
    assert (completion.serving["frame_check"], completion.serving["server_frame"]) == ("resized", list(served))
    assert completion.seen_frame == served  # the answer's points are read in what the model saw
