"""Golden tests of both prompt builders (computer and mobile).

The rendered conversation for fixed inputs is compared with files in
tests/tools/dialects/golden/. After an intended prompt change, regenerate them with

    UPDATE_GOLDEN=1 python3 -m pytest tests/tools/dialects/test_prompt_golden.py

and review the diff: these prompts are what the models read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.dialects.base import HistoryStep, PromptContext
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message

GOLDEN = Path(__file__).parent / "golden"
FRAMES = {"computer": ModelFrame(width=1932, height=1092), "mobile": ModelFrame(width=1092, height=2408)}
TASKS = {"computer": "Book a flight from Beijing to Shanghai for tomorrow", "mobile": "打开设置，把屏幕亮度调到最高"}
ACTIONS = {
    "computer": [
        "click(start_box='(120,45)')",
        "type(content='Beijing\\n')",
        "scroll(start_box='(966,600)', direction='down')",
    ],
    "mobile": [
        "open_app(app_name='设置')",
        "click(start_box='(540,1200)')",
        "swipe(start_box='(546,1800)', end_box='(546,600)')",
    ],
}


def render(messages: list[Message]) -> str:
    """Messages as text: images appear as their size, so the file is stable and reviewable."""
    blocks = []
    for message in messages:
        parts = [part if isinstance(part, str) else f"[image {part.width}x{part.height}]" for part in message.parts]
        blocks.append(f"=== {message.role} ===\n" + "\n".join(parts))
    return "\n".join(blocks) + "\n"


def conversation(dialect_name: str, device: str) -> str:
    frame = FRAMES[device]
    image = Image.new("RGB", (frame.width, frame.height), "white")
    history = [
        HistoryStep(
            answer=f"Thought: step {n}\nAction: {text}",
            action_text=text,
            image=image if n > 1 else None,
            feedback="The screen did not change." if n == 2 else "",
        )
        for n, text in enumerate(ACTIONS[device], start=1)
    ]
    context = PromptContext(task=TASKS[device], frame=frame, device=device)
    return render(get_dialect(dialect_name).build_messages(context, history, image))


@pytest.mark.parametrize("device", ["computer", "mobile"])
@pytest.mark.parametrize("dialect_name", ["qwen", "uitars"])
def test_prompt_matches_golden(dialect_name, device):
    rendered = conversation(dialect_name, device)
    path = GOLDEN / f"{dialect_name}_{device}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}: run with UPDATE_GOLDEN=1 once"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("device", ["computer", "mobile"])
def test_golden_qwen_structure(device):
    text = (GOLDEN / f"qwen_{device}.txt").read_text(encoding="utf-8")
    frame = FRAMES[device]
    function = "computer_use" if device == "computer" else "mobile_use"
    for needle in [
        "# Tools",
        "<tools>",
        "</tools>",
        "<tool_call>",
        "</tool_call>",
        f'"name": "{function}"',
        f"The screen's resolution is {frame.width}x{frame.height}.",
        '"enum": [',
        '"coordinate"',
        "Step 3:",
    ]:
        assert needle in text, needle
    assert text.count("[image ") == 3  # steps 2 and 3 kept their screenshots, then the current screen


@pytest.mark.parametrize("device", ["computer", "mobile"])
def test_golden_uitars_structure(device):
    text = (GOLDEN / f"uitars_{device}.txt").read_text(encoding="utf-8")
    for needle in [
        "## Output Format",
        "Thought: ...",
        "Action: ...",
        "## Action Space",
        "## Note",
        "## User Instruction",
        TASKS[device],
        "click(start_box='<|box_start|>(x1,y1)<|box_end|>')",
        "finished(content='xxx')",
        "## Earlier Actions",
        "=== assistant ===\nThought: step 2",
    ]:
        assert needle in text, needle
    assert text.count("[image ") == 3  # steps 2 and 3 and the current screen
