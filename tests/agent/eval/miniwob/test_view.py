"""The zoom and scale arithmetic: CSS px of the page -> screen pixels -> pixels of the image a model was sent."""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.eval.miniwob.view import CssRect, PageGeometry, TaskArea, View
from qwen_gui_agent.devices.desktop.settings import Region

WRAP = CssRect(0, 0, 160, 210)


@pytest.mark.parametrize(
    ("zoom", "scale", "size"),
    [(3, 1, (480, 630)), (1.5, 2, (480, 630)), (1, 1, (160, 210)), (3, 2, (960, 1260)), (1.25, 1, (200, 262))],
)
def test_the_task_area_is_captured_at_zoom_times_scale(zoom: float, scale: float, size: tuple[int, int]) -> None:
    view = View(zoom=zoom, scale=scale)
    area = TaskArea.of(PageGeometry(0, 0, view.pixels_per_css), WRAP)
    assert (area.region.width, area.region.height) == size


def test_the_screen_holds_the_window() -> None:
    view = View(zoom=1.5, scale=2)
    assert view.window_size() == (600, 495)
    assert view.screen_size() == (1200, 990)
    assert abs(1.2**view.zoom_level - 1.5) < 1e-9  # Chromium's zoom level is log base 1.2 of the factor


@pytest.mark.parametrize(("zoom", "scale"), [(0.1, 1), (6, 1), (2, 0.5), (2, 5)])
def test_views_out_of_range_are_refused(zoom: float, scale: float) -> None:
    with pytest.raises(ValueError):
        View(zoom=zoom, scale=scale)


def test_a_css_point_lands_in_the_image_where_the_screen_shows_it() -> None:
    geometry = PageGeometry(origin_x=13, origin_y=7, pixels_per_css=3.0)
    area = TaskArea.of(geometry, WRAP)
    assert area.region == Region(left=13, top=7, width=480, height=630)
    assert geometry.to_screen(10, 20) == (43, 67)
    # The capture resized to 476x616 (a model frame): the point scales with it.
    x, y = area.to_image(80, 105, (476, 616))
    assert (x, y) == pytest.approx((238, 308))
    assert area.contains(0, 0) and area.contains(159.9, 209.9)
    assert not area.contains(160, 10) and not area.contains(10, -0.5)


def test_region_edges_round_to_whole_pixels() -> None:
    area = TaskArea.of(PageGeometry(0, 0, 1.25), CssRect(0.4, 0, 160, 210))
    assert area.region == Region(left=0, top=0, width=200, height=262)
