"""The grounding prompt and the grounding reader agree on the scale of a relative box.

Qwen3-VL's own grounding material (its cookbooks' box and point readers, its ODinW-13 evaluation) reads
``bbox_2d`` on 0..1000, divided by 1000; its agent prompts' tool calls are on 0..999 (docs/models.md).
Whatever number the grounding prompt names as the far edge must map to the screen's far edge.
"""

from __future__ import annotations

import re

import pytest
from PIL import Image

from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import ModelFrame, ScreenGeometry, to_screenshot_point

SCREEN = ScreenGeometry(width=1920, height=1080)
RELATIVE = ("qwen3", "qwen3.5", "guiowl", "uitars", "qwen")


def prompt_text(dialect_name: str, frame: ModelFrame) -> str:
    messages = get_dialect(dialect_name, coordinates="relative").grounding_messages(
        "the Save button", Image.new("RGB", (frame.width, frame.height)), frame
    )
    return "\n".join(message.joined_text() for message in messages)


def far_edge_named(prompt: str) -> int:
    match = re.search(r"(\d+) the right or bottom", prompt)
    assert match, f"the grounding prompt names no far edge:\n{prompt}"
    return int(match.group(1))


def relative_frame(dialect_name: str) -> ModelFrame:
    dialect = get_dialect(dialect_name, coordinates="relative")
    return ModelFrame(width=1920, height=1088, relative=True, relative_scale=dialect.relative_scale)


@pytest.mark.parametrize("dialect_name", ["qwen3", "qwen3.5", "guiowl"])
def test_the_far_edge_the_grounding_prompt_names_is_the_screens_far_edge(dialect_name: str) -> None:
    frame = relative_frame(dialect_name)
    edge = far_edge_named(prompt_text(dialect_name, frame))
    dialect = get_dialect(dialect_name, coordinates="relative")
    reading = dialect.grounding_frame(frame)
    hit = dialect.parse_grounding(f'[{{"bbox_2d": [{edge}, {edge}, {edge}, {edge}], "label": "corner"}}]', reading)[0]
    assert to_screenshot_point(hit.point, reading, SCREEN) == (1920, 1080)


def test_qwen3_reads_a_grounding_box_in_thousandths_and_its_actions_in_999ths() -> None:
    dialect = get_dialect("qwen3")
    frame = relative_frame("qwen3")
    assert frame.relative_scale == 999  # tool calls: the mobile cookbook's 999x999 screen, read over 999
    reading = dialect.grounding_frame(frame)
    assert (reading.width, reading.height, reading.relative, reading.relative_scale) == (1920, 1088, True, 1000)
    hit = dialect.parse_grounding('[{"bbox_2d": [240, 500, 260, 520], "label": "Save"}]', reading)[0]
    assert to_screenshot_point(hit.point, reading, SCREEN) == (480, 550.8)  # 250/1000 x 1920, 510/1000 x 1080
    click = dialect.parse(
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [999, 999]}}\n</tool_call>',
        frame,
    ).actions[0]
    assert to_screenshot_point(click.points()[0], frame, SCREEN) == (1920, 1080)


@pytest.mark.parametrize("dialect_name", RELATIVE)
def test_a_pixel_frame_or_a_1000_scale_is_read_as_it_is(dialect_name: str) -> None:
    dialect = get_dialect(dialect_name, coordinates="absolute")
    pixels = ModelFrame(width=1932, height=1092)
    assert dialect.grounding_frame(pixels) == pixels
    thousandths = ModelFrame(width=1932, height=1092, relative=True)
    assert dialect.grounding_frame(thousandths) == thousandths
