"""Golden tests of the Qwen3-generation prompts (qwen3, qwen3.5, guiowl), computer and mobile.

The same tasks and earlier actions as test_prompt_golden.py, on each dialect's own
frame (thousandths; the image at smart_resize's factor 32). Regenerate after an
intended change with

    UPDATE_GOLDEN=1 python3 -m pytest tests/tools/dialects/test_prompt_golden_qwen3.py

and review the diff: these prompts are what the models read.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from PIL import Image

from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.dialects.base import HistoryStep, PromptContext
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame
from tests.tools.dialects.test_prompt_golden import ACTIONS, GOLDEN, TASKS, render

DIALECTS = ("qwen3", "qwen3.5", "guiowl")
# test_prompt_golden's earlier steps, the same action types with their points in thousandths of the screen.
THOUSANDTHS = {
    "computer": ACTIONS["computer"],
    "mobile": [
        "open_app(app_name='设置')",
        "click(start_box='(500,500)')",
        "swipe(start_box='(506,750)', end_box='(506,250)')",
    ],
}
SCREENS = {"computer": (1920, 1080), "mobile": (1080, 2400)}
# What each dialect's own sources name (docs/models.md): the stated screen and the extra actions.
STATED = {("qwen3", "computer"): "1000x1000", ("qwen3", "mobile"): "999x999"}
EXTRA = {"computer": ["triple_click", "hscroll", "answer"], "mobile": ["answer"]}


def frame_for(dialect_name: str, device: str) -> ModelFrame:
    dialect = get_dialect(dialect_name)
    width, height = SCREENS[device]
    return ModelFrame.for_screen(
        width,
        height,
        FrameBounds(max_pixels=1280 * 32 * 32, factor=32),
        relative=dialect.relative,
        relative_scale=dialect.relative_scale,
    )


def conversation(dialect_name: str, device: str) -> str:
    frame = frame_for(dialect_name, device)
    image = Image.new("RGB", (frame.width, frame.height), "white")
    history = [
        HistoryStep(
            answer=f"Thought: step {n}\nAction: {text}",
            action_text=text,
            image=image if n > 1 else None,
            feedback="The screen did not change." if n == 2 else "",
        )
        for n, text in enumerate(THOUSANDTHS[device], start=1)
    ]
    context = PromptContext(task=TASKS[device], frame=frame, device=device)
    return render(get_dialect(dialect_name).build_messages(context, history, image))


def golden_path(dialect_name: str, device: str):
    return GOLDEN / f"{dialect_name.replace('.', '')}_{device}.txt"


@pytest.mark.parametrize("device", ["computer", "mobile"])
@pytest.mark.parametrize("dialect_name", DIALECTS)
def test_prompt_matches_golden(dialect_name, device):
    rendered = conversation(dialect_name, device)
    path = golden_path(dialect_name, device)
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with UPDATE_GOLDEN=1 once"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("device", ["computer", "mobile"])
@pytest.mark.parametrize("dialect_name", DIALECTS)
def test_golden_structure(dialect_name, device):
    text = golden_path(dialect_name, device).read_text(encoding="utf-8")
    function = "computer_use" if device == "computer" else "mobile_use"
    stated = STATED.get((dialect_name, device), "1000x1000")
    for needle in [
        "# Tools",
        "<tools>",
        "</tools>",
        "<tool_call>",
        "</tool_call>",
        f'"name": "{function}"',
        f"The screen's resolution is {stated}.",
        "thousandths",
        "# Response format",
        "Action:",
        "Step 3:",
        TASKS[device],
    ]:
        assert needle in text, needle
    schema = json.loads(text.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0])
    enum = schema["function"]["parameters"]["properties"]["action"]["enum"]
    assert set(EXTRA[device]) <= set(enum)
    assert ("interact" in enum) == (dialect_name == "guiowl")
    assert ("Thought:" in text) == (dialect_name != "guiowl")  # GUI-Owl-1.5 answers with Action: only
    assert text.count("[image ") == 3
    frame = frame_for(dialect_name, device)
    assert f"[image {frame.width}x{frame.height}]" in text and frame.width % 32 == 0 and frame.height % 32 == 0


def test_qwen35_asks_for_xml_calls_and_writes_its_history_so():
    text = golden_path("qwen3.5", "computer").read_text(encoding="utf-8")
    assert "<function=computer_use>" in text and "<parameter=action>" in text
    assert re.search(
        r"Step 1: <function=computer_use>\n<parameter=action>\nleft_click\n</parameter>\n"
        r"<parameter=coordinate>\n\[120, 45\]\n</parameter>\n</function>",
        text,
    )


@pytest.mark.parametrize("dialect_name", DIALECTS)
def test_every_golden_history_call_parses_back_to_its_action(dialect_name):
    """The history lines are calls the dialect's own parser reads back to the step's action."""
    from qwen_gui_agent.tools.canonical import parse_action

    for device in ("computer", "mobile"):
        dialect = get_dialect(dialect_name)
        frame = frame_for(dialect_name, device)
        for text in THOUSANDTHS[device]:
            action = parse_action(text)
            call = dialect.format_call(action, device)
            wrapped = f"<tool_call>\n{call}\n</tool_call>" if not call.startswith(action.action) else call
            assert dialect.parse(wrapped, frame).actions == (action,), (device, call)
