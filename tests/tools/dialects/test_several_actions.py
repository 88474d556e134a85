"""Several ``Action:`` lines in one answer: what runs is what docs/actions.md says runs.

The rule: the ``Action:`` parts after the last ``Thought:`` (or ``Reflection:`` /
``Action_Summary:``) are this step's and all run in order; a thought/action pair
before it is an echo or a revised plan and is dropped. The documented example is
read from the doc itself, so doc and code cannot disagree silently.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qwen_gui_agent.tools.actions import Click, Hotkey, PressBack, Type, Wait
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import ModelFrame

DOC = Path(__file__).resolve().parents[3] / "docs" / "actions.md"
FRAME = ModelFrame(width=1932, height=1092)
MARKER = "<!-- several-actions example"


def documented_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r".*?-->\n```text\n(.*?)```", text, re.DOTALL)
    assert found, "docs/actions.md lost its several-actions example"
    return found.group(1)


@pytest.mark.parametrize("dialect", ["uitars", "qwen", "qwen3", "qwen3.5", "guiowl"])
def test_the_documented_example_runs_what_the_doc_says(dialect):
    parsed = get_dialect(dialect, coordinates="absolute").parse(documented_example(), FRAME)
    assert parsed.actions == (Hotkey(keys=("ctrl", "s")), Type(text="report", submit=True))
    assert parsed.thought == "no, save with the keyboard instead"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # Consecutive Action: lines after one thought: every one runs, in order.
        (
            "Thought: t\nAction: click(start_box='(1,1)')\nAction: hotkey(key='enter')",
            (Click(point={"x": 1, "y": 1}), Hotkey(keys=("enter",))),
        ),
        # No label before them at all: all run.
        ("Action: wait()\n\nAction: press_back()", (Wait(), PressBack())),
        # An Action: before a later thought is an earlier plan: only what follows the last thought runs.
        ("Action: click(start_box='(1,1)')\nThought: better go back\nAction: press_back()", (PressBack(),)),
        ("Reflection: that failed\nAction: wait()\nAction_Summary: go back\nAction: press_back()", (PressBack(),)),
    ],
)
def test_which_action_lines_run(answer, expected):
    assert get_dialect("uitars").parse(answer, FRAME).actions == expected


def test_several_tool_calls_all_run_in_order():
    answer = (
        "Thought: fill it in\nAction: type and confirm\n"
        '<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "hi"}}</tool_call>\n'
        '<tool_call>{"name": "computer_use", "arguments": {"action": "key", "keys": ["enter"]}}</tool_call>'
    )
    parsed = get_dialect("qwen3", coordinates="absolute").parse(answer, FRAME)
    assert parsed.actions == (Type(text="hi"), Hotkey(keys=("enter",)))
