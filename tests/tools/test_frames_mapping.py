"""Coordinate frames: smart_resize against qwen-vl-utils, and model -> screenshot -> input mapping."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from qwen_vl_utils.vision_process import smart_resize as reference_smart_resize

from qwen_gui_agent.tools.actions import Drag, Point
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import (
    MAX_PIXELS,
    MIN_PIXELS,
    SERVING_MAX_PIXELS,
    FrameBounds,
    ModelFrame,
    ScreenGeometry,
    input_to_screenshot,
    map_action,
    screenshot_to_input,
    smart_resize,
    to_input_point,
)

PIXEL_CAPS = [MAX_PIXELS, SERVING_MAX_PIXELS, 2048 * 28 * 28, 512 * 28 * 28, 256 * 28 * 28]


@settings(max_examples=1000, deadline=None)
@given(st.integers(1, 20_000), st.integers(1, 20_000), st.sampled_from(PIXEL_CAPS))
def test_smart_resize_equals_qwen_vl_utils(height, width, max_pixels):
    assume(max(height, width) / min(height, width) <= 200)
    ours = smart_resize(height, width, min_pixels=MIN_PIXELS, max_pixels=max_pixels)
    theirs = reference_smart_resize(height, width, factor=28, min_pixels=MIN_PIXELS, max_pixels=max_pixels)
    assert ours == theirs
    h, w = ours
    assert h % 28 == 0 and w % 28 == 0 and MIN_PIXELS <= h * w <= max_pixels


@pytest.mark.parametrize(
    ("screen", "max_pixels", "frame"),
    [
        ((1920, 1080), MAX_PIXELS, (1932, 1092)),
        ((1920, 1080), SERVING_MAX_PIXELS, (1316, 728)),
        ((1080, 2400), MAX_PIXELS, (1092, 2408)),
    ],
)
def test_design_examples(screen, max_pixels, frame):
    assert ModelFrame.for_screen(*screen, FrameBounds(max_pixels=max_pixels)) == ModelFrame(*frame)


def test_extreme_aspect_ratio_is_refused_like_the_reference():
    with pytest.raises(ValueError):
        smart_resize(10, 2100)
    with pytest.raises(ValueError):
        reference_smart_resize(10, 2100, factor=28)


desktops = st.tuples(st.integers(200, 7680), st.integers(200, 4320))
phones = st.tuples(st.integers(480, 1440), st.integers(800, 3200)).flatmap(
    lambda size: st.sampled_from([size, (size[1], size[0])])  # portrait and landscape
)
origins = st.tuples(st.integers(-7680, 7680), st.integers(-4320, 4320)) | st.just((0, 0))


@st.composite
def rectangles_in(draw, frame: ModelFrame):
    max_x, max_y = frame.extent
    x1 = draw(st.integers(0, max_x))
    x2 = draw(st.integers(x1, max_x))
    y1 = draw(st.integers(0, max_y))
    y2 = draw(st.integers(y1, max_y))
    return x1, y1, x2, y2


@settings(max_examples=800, deadline=None)
@given(
    st.data(),
    desktops | phones,
    st.sampled_from([1.0, 1.25, 1.5, 2.0]),
    origins,
    st.sampled_from(PIXEL_CAPS),
    st.booleans(),
)
def test_centre_of_a_model_rectangle_lands_inside_it_on_screen(data, screen, scale, origin, max_pixels, relative):
    width, height = screen
    frame = ModelFrame.for_screen(width, height, FrameBounds(max_pixels=max_pixels), relative=relative)
    geometry = ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin[0], origin_y=origin[1])
    x1, y1, x2, y2 = data.draw(rectangles_in(frame))
    centre = Point(x=math.floor((x1 + x2) / 2 + 0.5), y=math.floor((y1 + y2) / 2 + 0.5))
    mapped = to_input_point(centre, frame, geometry)

    max_x, max_y = frame.extent
    # The rectangle in input units: model -> screenshot pixels (x * W / W') -> input (/ scale + origin).
    left = origin[0] + x1 * width / max_x / scale
    right = origin[0] + x2 * width / max_x / scale
    top = origin[1] + y1 * height / max_y / scale
    bottom = origin[1] + y2 * height / max_y / scale
    assert left - 1 <= mapped.x <= right + 1
    assert top - 1 <= mapped.y <= bottom + 1
    # And never off the screen.
    assert origin[0] <= mapped.x < origin[0] + width / scale
    assert origin[1] <= mapped.y < origin[1] + height / scale


@pytest.mark.parametrize("relative", [False, True])
@pytest.mark.parametrize("point", [(-1, 10), (10, -1), ("max+1", 10), (10, "max+1")])
def test_points_outside_the_frame_raise_in_mapping_and_in_both_parsers(relative, point):
    frame = ModelFrame.for_screen(1920, 1080, relative=relative)
    max_x, max_y = frame.extent
    x = max_x + 1 if point[0] == "max+1" else point[0]
    y = max_y + 1 if point[1] == "max+1" else point[1]
    geometry = ScreenGeometry(1920, 1080)
    with pytest.raises(ActionParseError, match="outside the screen"):
        to_input_point(Point(x=x, y=y), frame, geometry)
    with pytest.raises(ActionParseError, match="outside the screen"):
        get_dialect("uitars").parse(f"Action: click(start_box='({x},{y})')", frame)
    answer = f'<tool_call>{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{x}, {y}]}}}}'
    with pytest.raises(ActionParseError, match="outside the screen"):
        get_dialect("qwen").parse(answer, frame)


def test_far_edge_maps_to_the_last_pixel_and_hidpi_origin_applies():
    frame = ModelFrame(width=1000, height=500)
    geometry = ScreenGeometry(width=2000, height=1000, scale=2.0, origin_x=-1000, origin_y=50)
    # The far edge is the last logical point on that screen (999 units wide), not one past it.
    assert to_input_point(Point(x=1000, y=500), frame, geometry) == Point(x=-1000 + 999, y=50 + 499)
    assert to_input_point(Point(x=0, y=0), frame, geometry) == Point(x=-1000, y=50)
    assert to_input_point(Point(x=500, y=250), frame, geometry) == Point(x=-500, y=300)


def test_relative_frame_maps_thousandths():
    frame = ModelFrame(width=1092, height=2408, relative=True)
    geometry = ScreenGeometry(width=1080, height=2400)
    assert to_input_point(Point(x=500, y=500), frame, geometry) == Point(x=540, y=1200)


def test_map_action_maps_every_point_and_keeps_a_pointer_drag():
    frame = ModelFrame(width=1932, height=1092)
    geometry = ScreenGeometry(width=3864, height=2184, scale=2.0)
    drag = Drag(start=Point(x=100, y=100), end=Point(x=200, y=300))
    assert map_action(drag, frame, geometry) == Drag(start=Point(x=100, y=100), end=Point(x=200, y=300))
    pointer_drag = Drag(end=Point(x=966, y=546))
    assert map_action(pointer_drag, frame, geometry) == Drag(end=Point(x=966, y=546))


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (1080, 2400), (1, 1)])
def test_screenshot_pixels_follow_the_frame_rule(width, height):
    """Literal actions (frame None) are screenshot pixels, checked as the WxH frame is: 0..W, the edge the last pixel.

    One rule for `agent do`, a task file's `frame: WxH` and a model's answer (they disagreed: 0..W-1 here).
    """
    geometry = ScreenGeometry(width=width, height=height)
    edge = Point(x=width, y=height)
    assert to_input_point(edge, None, geometry) == to_input_point(edge, ModelFrame(width, height), geometry)
    assert to_input_point(edge, None, geometry) == Point(x=width - 1, y=height - 1)
    with pytest.raises(ActionParseError) as raised:
        to_input_point(Point(x=width + 1, y=height), None, geometry)
    assert raised.value.expected == f"x in 0..{width} and y in 0..{height} (the screen is {width}x{height})"
    assert raised.value.problem == f"point {Point(x=width + 1, y=height)} is outside the screen"


@settings(max_examples=500, deadline=None)
@given(st.data(), desktops | phones, st.sampled_from([1.0, 1.25, 1.5, 2.0]), origins)
def test_input_to_screenshot_undoes_screenshot_to_input(data, screen, scale, origin):
    """Report markers and macros go back from the input frame: within one input unit of the pixel."""
    geometry = ScreenGeometry(width=screen[0], height=screen[1], scale=scale, origin_x=origin[0], origin_y=origin[1])
    x = data.draw(st.integers(0, screen[0] - 1))
    y = data.draw(st.integers(0, screen[1] - 1))
    back_x, back_y = input_to_screenshot(screenshot_to_input(x, y, geometry), geometry)
    assert abs(back_x - x) <= scale and abs(back_y - y) <= scale
