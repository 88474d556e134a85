"""The desktop device: one monitor (or region) captured with mss, driven with pyautogui.

Actions reach ``plan``/``execute`` in the input frame (``qwen_gui_agent.tools.frames.map_action``
did the coordinate math). The planner (``qwen_gui_agent.devices.desktop.plan``) is pure;
``execute`` runs exactly the commands it planned.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ...tools.actions import Action, Scroll
from ...tools.frames import ScreenGeometry
from ..base import Device, Execution, Screenshot
from .capture import (
    MonitorInfo,
    ScreenCapture,
    choose_region,
    detect_geometry,
    display_problem,
)
from .plan import plan_commands, plan_desktop, resolve_action
from .pyautogui_input import PyAutoGuiInput
from .settings import DesktopSettings, Region
from .xdotool_input import XdotoolInput

__all__ = [
    "DesktopDevice",
    "DesktopSettings",
    "MonitorReport",
    "Region",
    "list_monitors",
    "open_desktop",
    "plan_desktop",
]


@dataclass(frozen=True)
class MonitorReport:
    """A monitor as ``agent devices`` shows it."""

    monitor: MonitorInfo
    geometry: ScreenGeometry


class DesktopDevice(Device):
    kind = "computer"

    def __init__(self, settings: DesktopSettings, capture: ScreenCapture) -> None:
        self.settings = settings
        self._capture = capture
        self._region, self._region_name = choose_region(capture.monitors(), settings)
        monitor = "" if settings.monitor is None else str(settings.monitor)
        self.name = f"desktop:{monitor}{settings.display}" if settings.display else f"desktop:{monitor}".rstrip(":")
        self._input: PyAutoGuiInput | XdotoolInput | None = None  # screenshots alone need no input driver
        self._geometry: ScreenGeometry | None = None

    def screenshot(self) -> Screenshot:
        image, capture_ms = self._capture.grab(self._region)
        self._geometry = detect_geometry(self._region, image.size, self.settings)
        return Screenshot(image=image, geometry=self._geometry, captured_at=time.time(), capture_ms=capture_ms)

    def geometry(self) -> ScreenGeometry:
        """The screenshot geometry (from the last capture, or a fresh one)."""
        return self._geometry if self._geometry is not None else self.screenshot().geometry

    def plan(self, action: Action) -> tuple[str, ...]:
        return plan_desktop(self._resolve(action), self.settings)

    def execute(self, action: Action) -> Execution:
        resolved = self._resolve(action)
        commands = plan_commands(resolved, self.settings)
        driver = self._input_driver()
        for command in commands:
            driver.run(command)
        # The resolved action (scroll point filled in) is recorded, so replay recomputes the same commands.
        return Execution(action=resolved, commands=tuple(command.as_text() for command in commands))

    def describe(self) -> dict[str, object]:
        geometry = self.geometry()
        return {
            "kind": self.kind,
            "name": self.name,
            "platform": self.settings.platform,
            "capture": self._region_name,
            "region": str(self._region),
            "width": geometry.width,
            "height": geometry.height,
            "scale": geometry.scale,
            "origin": [geometry.origin_x, geometry.origin_y],
            # What replay needs to recompute the same commands with plan_desktop.
            "settings": self.settings.model_dump(mode="json"),
        }

    def program_environment(self) -> dict[str, str] | None:
        """On another X display (``desktop::N``) a started program must open its windows there, not on $DISPLAY;
        without WAYLAND_DISPLAY, which toolkits would otherwise prefer to any X display."""
        if not self.settings.display:
            return None
        environment = {name: value for name, value in os.environ.items() if name != "WAYLAND_DISPLAY"}
        return {**environment, "DISPLAY": self.settings.display}

    def close(self) -> None:
        try:
            if self._input is not None:
                self._input.close()
        finally:
            self._capture.close()

    def _input_driver(self) -> PyAutoGuiInput | XdotoolInput:
        if self._input is None:
            # pyautogui is bound to $DISPLAY for the whole process; another display is driven with xdotool.
            self._input = XdotoolInput(self.settings) if self.settings.display else PyAutoGuiInput(self.settings)
        return self._input

    def _resolve(self, action: Action) -> Action:
        return resolve_action(action, self.geometry()) if isinstance(action, Scroll) else action


def open_desktop(settings: DesktopSettings | None = None) -> DesktopDevice:
    """Open the desktop; MissingDependency when there is no display to open."""
    settings = settings or DesktopSettings()
    return DesktopDevice(settings, _open_capture(settings))


def list_monitors(settings: DesktopSettings | None = None) -> list[MonitorReport]:
    """Every monitor with its geometry (number 0 is all of them together)."""
    settings = settings or DesktopSettings()
    capture = _open_capture(settings)
    try:
        reports = []
        for monitor in capture.monitors():
            # Only macOS needs a capture to know the scale (pixels per point); elsewhere it is 1.
            size = (
                capture.grab(monitor.region)[0].size
                if settings.platform == "macos"
                else (monitor.region.width, monitor.region.height)
            )
            # An origin override names one capture's corner; each monitor here reports its own.
            per_monitor = settings.model_copy(update={"origin": None})
            reports.append(MonitorReport(monitor, detect_geometry(monitor.region, size, per_monitor)))
        return reports
    finally:
        capture.close()


def _open_capture(settings: DesktopSettings) -> ScreenCapture:
    """A capture connection to the display, or MissingDependency saying how to get one."""
    if settings.display is None:
        problem = display_problem(settings.platform, os.environ)
        if problem is not None:
            raise problem
    return ScreenCapture.open(settings.display)
