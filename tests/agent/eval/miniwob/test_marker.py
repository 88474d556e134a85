"""Finding the calibration marker in a capture: the page's origin on the screen, measured from pixels."""

from __future__ import annotations

import numpy as np

from qwen_gui_agent.agent.eval.miniwob.browser import MARKER_RGB, chrome_arguments, chrome_preferences, marker_box
from qwen_gui_agent.agent.eval.miniwob.view import View


def test_the_marker_box_is_found_where_it_is_drawn() -> None:
    pixels = np.full((300, 400, 3), 85, dtype=np.uint8)
    pixels[40:130, 17:137] = MARKER_RGB
    pixels[129, 60] = (254, 0, 255)  # an antialiased pixel inside does not move the edges
    assert marker_box(pixels) == (17, 40, 120, 90)


def test_no_marker_is_none() -> None:
    pixels = np.zeros((50, 50, 3), dtype=np.uint8)
    pixels[10, 10] = (255, 0, 254)  # close is not the marker
    assert marker_box(pixels) is None


def test_chromium_is_told_the_view_and_to_keep_out_of_the_way() -> None:
    arguments = chrome_arguments("file:///x/click-test.html", View(zoom=2, scale=2), as_root=True)
    assert "app=file:///x/click-test.html" in arguments
    assert "window-size=800,660" in arguments and "force-device-scale-factor=2" in arguments
    assert "no-sandbox" in arguments  # as root Chromium refuses to start without it
    assert "no-sandbox" not in chrome_arguments("file:///x", View(), as_root=False)
    preferences = chrome_preferences(View(zoom=2))
    assert abs(1.2 ** preferences["partition"]["default_zoom_level"]["x"] - 2) < 1e-9
    assert preferences["credentials_enable_service"] is False  # no "save password?" bubble over login forms
    assert "partition" not in chrome_preferences(View(zoom=1))
