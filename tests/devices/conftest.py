"""Fixtures for the device tests: the shared X display and the recorder Tk app on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tk_app import TkApp
from tests.support.xvfb import XvfbServer, XvfbUnavailable, use_shared_display

APP_POSITION = (60, 40)


@pytest.fixture(scope="session")
def x_display() -> Iterator[XvfbServer]:
    """The process-wide Xvfb, with DISPLAY pointing at it for in-process pyautogui."""
    with pytest.MonkeyPatch.context() as patch:
        try:
            server = use_shared_display(patch)
        except XvfbUnavailable as error:
            pytest.skip(str(error))
        yield server


@pytest.fixture
def tk_app(x_display: XvfbServer, tmp_path: Path) -> Iterator[TkApp]:
    app = TkApp(x_display.env(), tmp_path / "state.json", *APP_POSITION)
    try:
        yield app
    finally:
        app.close()


@pytest.fixture
def desktop(x_display: XvfbServer):
    from qwen_gui_agent.devices.desktop.device import open_desktop
    from qwen_gui_agent.devices.desktop.settings import DesktopSettings

    # No pause between pyautogui calls beyond a little: the tests wait on the app's state instead.
    device = open_desktop(DesktopSettings(pause=0.02))
    try:
        yield device
    finally:
        device.close()
