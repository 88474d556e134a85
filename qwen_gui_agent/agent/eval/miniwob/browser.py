"""The Chromium window a task is played in: how it is started on a display, and where its page lands on screen.

Started by chromedriver (Selenium) as an app window (no tab strip, no address bar) at the top-left
of the display, with the page zoom and the device scale factor of the ``View``. As root Chromium
starts only with ``--no-sandbox`` (the miniwob package adds it in headless mode alone). The
"controlled by automated test software" bar, the password manager and first-run prompts are
turned off: each would cover or shift the page.

Where the page is on the screen is measured, not guessed: a marker of a colour no task uses is
put at the viewport's corner, the screen is captured, and the marker's first pixel is the
viewport's origin; ``devicePixelRatio`` (page zoom times device scale factor) is the pixels per
CSS px. The same capture code the agent's device uses takes the picture.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from ....devices.desktop.capture import ScreenCapture
from ....devices.errors import DeviceError
from .requirements import BrowserBinaries
from .view import PageGeometry, View

log = logging.getLogger(__name__)

MARKER_ID = "qga-calibration-marker"
MARKER_RGB = (255, 0, 255)  # no MiniWoB++ task draws pure magenta at the viewport's corner
MARKER_CSS = (40, 30)
CALIBRATION_TRIES = 20
CALIBRATION_WAIT_S = 0.1

_ADD_MARKER = f"""
var marker = document.createElement('div');
marker.id = '{MARKER_ID}';
marker.style.cssText = 'position:fixed;left:0;top:0;width:{MARKER_CSS[0]}px;height:{MARKER_CSS[1]}px;' +
  'background:rgb({MARKER_RGB[0]},{MARKER_RGB[1]},{MARKER_RGB[2]});z-index:2147483647;pointer-events:none';
document.body.appendChild(marker);
return window.devicePixelRatio;
"""
_REMOVE_MARKER = f"var m = document.getElementById('{MARKER_ID}'); if (m) m.remove();"


class BrowserError(RuntimeError):
    """The browser could not start, or its page is not where it can be captured."""


def chrome_arguments(url: str, view: View, *, as_root: bool) -> list[str]:
    """Chromium's command-line switches for a task window (without the leading dashes, as Selenium takes them)."""
    width, height = view.window_size()
    arguments = [
        f"app={url}",
        "window-position=0,0",
        f"window-size={width},{height}",
        f"force-device-scale-factor={view.scale:g}",
        "no-first-run",
        "no-default-browser-check",
        "disable-search-engine-choice-screen",
        "password-store=basic",
        "disable-crash-reporter",  # no crash handler process left behind by each window
        "disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
        "disable-gpu",  # Xvfb has no GPU: software compositing, without emulating GL on two cores
        "disable-backgrounding-occluded-windows",
        "disable-renderer-backgrounding",
        "disable-background-timer-throttling",
    ]
    if as_root:
        arguments.append("no-sandbox")  # Chromium refuses to run as root with its sandbox on
    return arguments


def chrome_preferences(view: View) -> dict[str, Any]:
    """Profile preferences: the page zoom, and no password manager prompts over the forms."""
    preferences: dict[str, Any] = {"credentials_enable_service": False, "profile.password_manager_enabled": False}
    if view.zoom != 1:
        preferences["partition"] = {"default_zoom_level": {"x": view.zoom_level}}
    return preferences


def open_driver(url: str, display: str, view: View, binaries: BrowserBinaries) -> Any:
    """A Selenium Chrome driver whose window shows ``url`` on ``display``."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binaries.chrome
    for argument in chrome_arguments(url, view, as_root=os.geteuid() == 0):
        options.add_argument(argument)
    options.add_experimental_option("excludeSwitches", ["enable-automation"])
    options.add_experimental_option("prefs", chrome_preferences(view))
    # chromedriver starts Chromium with its own environment: DISPLAY picks the X server per window.
    service = Service(executable_path=binaries.chromedriver, env={**os.environ, "DISPLAY": display})
    try:
        return webdriver.Chrome(service=service, options=options)
    except WebDriverException as error:
        first_line = (error.msg or str(error)).strip().splitlines()[0] if (error.msg or str(error)) else "no reason"
        raise BrowserError(f"Chromium did not start on {display}: {first_line}") from None


class BrowserWindow:
    """One Chromium window on a display, kept from task to task: a task's page is loaded into it, since a
    start takes seconds and a page load a fraction of one. A window that stopped answering is started anew."""

    def __init__(self, display: str, view: View, binaries: BrowserBinaries) -> None:
        self.display = display
        self.view = view
        self.binaries = binaries
        self.driver: Any = None

    def show(self, url: str) -> Any:
        """The driver, its window showing ``url``."""
        from selenium.common.exceptions import WebDriverException

        if self.driver is not None:
            try:
                self.driver.get(url)
                return self.driver
            except WebDriverException as error:
                log.info("the browser on %s stopped answering (%s); starting another", self.display, error.msg)
                self.close()
        self.driver = open_driver(url, self.display, self.view, self.binaries)
        return self.driver

    def close(self) -> None:
        if self.driver is not None:
            driver, self.driver = self.driver, None
            try:
                driver.quit()
            except Exception as error:  # noqa: BLE001 - a browser that died cannot quit cleanly; nothing is lost
                log.info("closing the browser on %s: %s", self.display, error)


def measure_page(driver: Any, display: str) -> PageGeometry:
    """Where the page's viewport is on ``display``'s screen, found by the marker it shows there."""
    try:
        pixels_per_css = float(driver.execute_script(_ADD_MARKER))
        try:
            return _find_marker(display, pixels_per_css)
        finally:
            driver.execute_script(_REMOVE_MARKER)
    except DeviceError as error:
        raise BrowserError(f"cannot capture {display} to find the browser's page: {error}") from None


def _find_marker(display: str, pixels_per_css: float) -> PageGeometry:
    capture = ScreenCapture.open(display)
    try:
        screen = next(iter(capture.monitors()[1:]), capture.monitors()[0])
        for _ in range(CALIBRATION_TRIES):  # the marker shows at the next frame the browser paints
            image, _ms = capture.grab(screen.region)
            found = marker_box(np.asarray(image))
            if found is not None:
                left, top, width, height = found
                expected = (MARKER_CSS[0] * pixels_per_css, MARKER_CSS[1] * pixels_per_css)
                if abs(width - expected[0]) > 1.5 or abs(height - expected[1]) > 1.5:
                    raise BrowserError(
                        f"the page shows on {display} at {width}x{height} px per {MARKER_CSS[0]}x{MARKER_CSS[1]} CSS px, "
                        f"not at the {pixels_per_css:g} px per CSS px the browser reports: is the window covered "
                        "or cut off by the screen's edge?"
                    )
                return PageGeometry(
                    origin_x=screen.region.left + left, origin_y=screen.region.top + top, pixels_per_css=pixels_per_css
                )
            time.sleep(CALIBRATION_WAIT_S)
    finally:
        capture.close()
    raise BrowserError(f"the browser's page does not show on {display}: is the window covered or off the screen?")


def marker_box(pixels: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, width, height) of the marker's pixels in an RGB array, or None when it is not there."""
    mask = np.all(pixels[:, :, :3] == np.array(MARKER_RGB, dtype=pixels.dtype), axis=2)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)
