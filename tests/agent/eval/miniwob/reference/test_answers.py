"""The reference policy's answers: each dialect's own form, read back by that dialect's parser, landing on the page.

A move at a CSS point is written in the frame of the screenshot the agent would send (the task
area's capture, smart-resized for the model family), parsed by the dialect the agent uses, mapped
by the agent's one mapping function, and must land on the screen pixel the page shows that point at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.miniwob.reference.answers import frame_of, to_action, write_answer
from qwen_gui_agent.agent.eval.miniwob.reference.moves import (
    PolicyGaveUp,
    click,
    double_click,
    drag,
    finished,
    hotkey,
    scroll,
    type_text,
)
from qwen_gui_agent.agent.eval.miniwob.view import CssRect, PageGeometry, TaskArea, View
from qwen_gui_agent.tools.actions import Drag, Scroll
from qwen_gui_agent.tools.canonical import format_action
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import ModelFrame, ScreenGeometry, map_action
from qwen_gui_agent.tools.models import family_for_dialect

DIALECTS = [
    ("qwen", None),
    ("uitars", None),
    ("uitars", "relative"),
    ("qwen3", None),
    ("qwen3.5", None),
    ("guiowl", None),
]
VIEWS = [View(zoom=3, scale=1), View(zoom=1.5, scale=2), View(zoom=1, scale=1), View(zoom=3, scale=2)]
POINTS = [(0.5, 0.5), (80, 105), (12.3, 199.7), (159.4, 60.2), (47.75, 13.01)]


def area_for(view: View) -> TaskArea:
    return TaskArea.of(
        PageGeometry(origin_x=7, origin_y=11, pixels_per_css=view.pixels_per_css), CssRect(0, 0, 160, 210)
    )


def agent_frame(dialect_name: str, coordinates: str | None, area: TaskArea) -> ModelFrame:
    """The frame the agent builds for a capture of the area (session.observe), with the family's bounds."""
    dialect = get_dialect(dialect_name, coordinates=coordinates)  # type: ignore[arg-type]
    family = family_for_dialect(dialect_name)
    return ModelFrame.for_screen(
        area.region.width,
        area.region.height,
        family.frame,
        relative=dialect.relative,
        relative_scale=dialect.relative_scale,
    )


def geometry(area: TaskArea) -> ScreenGeometry:
    return ScreenGeometry(
        width=area.region.width, height=area.region.height, origin_x=area.region.left, origin_y=area.region.top
    )


@pytest.mark.parametrize(("dialect_name", "coordinates"), DIALECTS)
@pytest.mark.parametrize("view", VIEWS, ids=lambda view: f"z{view.zoom:g}s{view.scale:g}")
def test_a_click_lands_on_the_css_point(dialect_name: str, coordinates: str | None, view: View) -> None:
    dialect = get_dialect(dialect_name, coordinates=coordinates)  # type: ignore[arg-type]
    area = area_for(view)
    seen = agent_frame(dialect_name, coordinates, area)
    image_size = (seen.width, seen.height)
    frame = frame_of(dialect, image_size)  # what the policy reads off the request
    assert frame == seen
    for point in POINTS:
        answer = write_answer(
            dialect, to_action(click(point, "Click it."), area, image_size, frame), "Click it.", frame
        )
        (parsed,) = dialect.parse(answer, frame).actions
        landed = map_action(parsed, frame, geometry(area)).point  # type: ignore[attr-defined]
        x, y = area.geometry.to_screen(*point)
        # One frame unit of rounding, then the input pixel's: within a unit's size plus half a pixel.
        tolerance = 0.5 + 0.5 * max(area.region.width / frame.extent[0], area.region.height / frame.extent[1])
        assert abs(landed.x - x) <= tolerance and abs(landed.y - y) <= tolerance, (answer, landed, (x, y))


@pytest.mark.parametrize(("dialect_name", "coordinates"), DIALECTS)
def test_every_kind_of_move_reads_back_as_the_same_action(dialect_name: str, coordinates: str | None) -> None:
    dialect = get_dialect(dialect_name, coordinates=coordinates)  # type: ignore[arg-type]
    area = area_for(View())
    frame = agent_frame(dialect_name, coordinates, area)
    size = (frame.width, frame.height)
    moves = [
        click((20, 30), "Click Submit."),
        double_click((40, 50), 'Double-click "dolor".'),
        drag((10, 100), (90, 140), "Drag the box."),
        scroll((80, 150), "down", 3, "Scroll down."),
        type_text('Li Lei\'s "flight"\nnext', "Type the name."),
        hotkey("ctrl a", "Select all."),
        finished("The page did not come up.", success=False),
    ]
    for move in moves:
        action = to_action(move, area, size, frame)
        answer = write_answer(dialect, action, move.thought, frame)
        assert [format_action(a) for a in dialect.parse(answer, frame).actions] == [format_action(action)]
    drag_action = to_action(moves[2], area, size, frame)
    assert isinstance(drag_action, Drag) and drag_action.start is not None
    assert isinstance(to_action(moves[3], area, size, frame), Scroll)


def test_each_dialect_answers_in_its_own_form() -> None:
    area = area_for(View())
    move = click((80, 105), "Click the middle.")

    def answer(name: str, coordinates: str | None = None) -> str:
        dialect = get_dialect(name, coordinates=coordinates)  # type: ignore[arg-type]
        frame = agent_frame(name, coordinates, area)
        return write_answer(dialect, to_action(move, area, (frame.width, frame.height), frame), move.thought, frame)

    qwen = answer("qwen")
    assert qwen.startswith("<tool_call>\n") and qwen.endswith("\n</tool_call>")
    assert json.loads(qwen.split("\n")[1]) == {
        "name": "computer_use",
        "arguments": {"action": "left_click", "coordinate": [238, 308]},
    }
    assert answer("uitars") == "Thought: Click the middle.\nAction: click(start_box='(238,308)')"
    assert answer("uitars", "relative").endswith("start_box='(500,500)')")  # thousandths of the screen
    qwen3 = answer("qwen3")
    assert qwen3.startswith("Thought: Click the middle.\nAction: Click the middle.\n<tool_call>\n")
    assert '"coordinate": [500, 500]' in qwen3  # Qwen3-VL's 0..999: the middle is 499.5, written 500


@pytest.mark.parametrize("dialect", ["qwen", "uitars", "qwen3"])
def test_an_answer_is_the_text_a_server_returns(tiny_qwen_dir: Path, dialect: str) -> None:
    """What the agent records from a real model, and repeats as history in UI-TARS's later prompts, is the
    answer detokenized with skip_special_tokens (servers' default, and the local backend's). A reference
    answer holding a token the tokenizer marks special (UI-TARS's <|box_start|>) would teach a history form
    the trained model never sees when it runs."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen_dir)  # marks special what Qwen2.5-VL's marks special
    area = area_for(View())
    frame = agent_frame(dialect, None, area)
    size = (frame.width, frame.height)
    for move in (click((80, 105), "Click the middle."), drag((40, 50), (120, 150), "Drag it down.")):
        answer = write_answer(get_dialect(dialect), to_action(move, area, size, frame), move.thought, frame)
        served = tokenizer.decode(tokenizer.encode(answer, add_special_tokens=False), skip_special_tokens=True)
        assert served == answer


def test_a_point_the_screenshot_does_not_show_is_refused() -> None:
    area = area_for(View())
    frame = ModelFrame(width=476, height=616)
    with pytest.raises(PolicyGaveUp):
        to_action(click((170, 20), "Click the reward display."), area, (476, 616), frame)
