"""Frames of the Qwen3 generation: smart_resize at factor 32, and answers in thousandths (0..999 and 0..1000)
mapped on the same screen sizes, scales and origins as the Qwen2.5-VL mapping test."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from qwen_vl_utils.vision_process import smart_resize as reference_smart_resize

from qwen_gui_agent.tools.actions import Point
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, ScreenGeometry, smart_resize, to_input_point
from qwen_gui_agent.tools.models import family_named
from tests.tools.test_frames_mapping import desktops, origins, phones, rectangles_in

QWEN3 = family_named("qwen3-vl")
QWEN3_CAPS = [QWEN3.frame.max_pixels, QWEN3.processor_frame.max_pixels, 2048 * 32 * 32, 256 * 32 * 32]


@settings(max_examples=600, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 20_000), st.sampled_from(QWEN3_CAPS))
def test_smart_resize_at_factor_32_equals_qwen_vl_utils(height, width, max_pixels):
    assume(max(height, width) / min(height, width) <= 200)
    ours = smart_resize(height, width, factor=32, min_pixels=QWEN3.frame.min_pixels, max_pixels=max_pixels)
    theirs = reference_smart_resize(height, width, factor=32, min_pixels=QWEN3.frame.min_pixels, max_pixels=max_pixels)
    assert ours == theirs
    assert ours[0] % 32 == 0 and ours[1] % 32 == 0


@settings(max_examples=800, deadline=None)
@given(
    st.data(),
    desktops | phones,
    st.sampled_from([1.0, 1.25, 1.5, 2.0]),
    origins,
    st.sampled_from(QWEN3_CAPS),
    st.sampled_from([999, 1000]),
)
def test_centre_of_a_thousandths_rectangle_lands_inside_it_on_screen(
    data, screen, scale, origin, max_pixels, relative_scale
):
    width, height = screen
    frame = ModelFrame.for_screen(
        width, height, FrameBounds(max_pixels=max_pixels, factor=32), relative=True, relative_scale=relative_scale
    )
    geometry = ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin[0], origin_y=origin[1])
    x1, y1, x2, y2 = data.draw(rectangles_in(frame))
    centre = Point(x=math.floor((x1 + x2) / 2 + 0.5), y=math.floor((y1 + y2) / 2 + 0.5))
    mapped = to_input_point(centre, frame, geometry)

    # The rectangle in input units: thousandths -> screenshot pixels (x * W / scale_of_answers) -> input.
    left = origin[0] + x1 * width / relative_scale / scale
    right = origin[0] + x2 * width / relative_scale / scale
    top = origin[1] + y1 * height / relative_scale / scale
    bottom = origin[1] + y2 * height / relative_scale / scale
    assert left - 1 <= mapped.x <= right + 1
    assert top - 1 <= mapped.y <= bottom + 1
    assert origin[0] <= mapped.x < origin[0] + width / scale
    assert origin[1] <= mapped.y < origin[1] + height / scale


@settings(max_examples=300, deadline=None)
@given(desktops | phones, st.sampled_from([1.0, 1.5, 2.0]), origins)
def test_edges_of_a_999_scale_are_the_first_and_last_pixels(screen, scale, origin):
    """0 is the first input point and both 999 and 1000 (the name the computer prompt uses) the last."""
    width, height = screen
    frame = ModelFrame(width=width, height=height, relative=True, relative_scale=999)
    geometry = ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin[0], origin_y=origin[1])
    last = Point(x=origin[0] + math.ceil(width / scale) - 1, y=origin[1] + math.ceil(height / scale) - 1)
    assert to_input_point(Point(x=0, y=0), frame, geometry) == Point(x=origin[0], y=origin[1])
    assert to_input_point(Point(x=999, y=999), frame, geometry) == last
    assert to_input_point(Point(x=1000, y=1000), frame, geometry) == last


def test_the_scales_differ_where_they_should():
    geometry = ScreenGeometry(width=1920, height=1080)
    point = Point(x=500, y=500)
    assert to_input_point(point, ModelFrame(1920, 1088, relative=True, relative_scale=999), geometry) == Point(
        x=961, y=541
    )
    assert to_input_point(point, ModelFrame(1920, 1088, relative=True), geometry) == Point(x=960, y=540)


@pytest.mark.parametrize("dialect_name", ["qwen3", "qwen3.5", "guiowl"])
@pytest.mark.parametrize("point", [(-1, 10), (10, -1), (1001, 10), (10, 1001)])
def test_points_past_the_thousandths_raise_in_mapping_and_in_the_parsers(dialect_name, point):
    dialect = get_dialect(dialect_name)
    frame = ModelFrame.for_screen(
        1920, 1080, FrameBounds(factor=32), relative=True, relative_scale=dialect.relative_scale
    )
    with pytest.raises(ActionParseError, match="outside the screen"):
        to_input_point(Point(x=point[0], y=point[1]), frame, ScreenGeometry(1920, 1080))
    answer = (
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", '
        f'"coordinate": [{point[0]}, {point[1]}]}}}}</tool_call>'
    )
    with pytest.raises(ActionParseError, match="outside the screen"):
        dialect.parse(answer, frame)


def test_a_frame_refuses_a_scale_nobody_uses():
    with pytest.raises(ValueError):
        ModelFrame(100, 100, relative=True, relative_scale=100)


@pytest.mark.parametrize(("dialect_name", "expected"), [("qwen3", (384, 324)), ("guiowl", (384, 324))])
def test_grounding_boxes_in_thousandths_land_on_the_screen(dialect_name, expected):
    # Qwen3-VL and GUI-Owl ground with [{"bbox_2d": [x1, y1, x2, y2]}] in thousandths; the hit is the centre.
    dialect = get_dialect(dialect_name)
    frame = ModelFrame.for_screen(
        1920, 1080, FrameBounds(factor=32), relative=True, relative_scale=dialect.relative_scale
    )
    [message] = dialect.grounding_messages("the Save button", None, frame)
    assert "thousandths" in message.joined_text()
    [hit] = dialect.parse_grounding('```json\n[{"bbox_2d": [100, 200, 300, 400], "label": "Save"}]\n```', frame)
    assert hit.point == Point(x=200, y=300) and hit.box == (100, 200, 300, 400) and hit.label == "Save"
    # 200 of 999 (or 1000) of 1920 = 384.4 (384.0); 300 of 999 of 1080 = 324.3 (324.0).
    assert to_input_point(hit.point, frame, ScreenGeometry(1920, 1080)) == Point(x=expected[0], y=expected[1])
