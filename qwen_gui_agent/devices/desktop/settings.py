"""Configuration of the desktop driver, as one frozen object.

Values come from the caller (the CLI reads flags and environment variables);
nothing here looks at the environment. ``platform`` is detected from
``sys.platform`` when not given, because it decides key names and the paste
chord, and a replay on another OS must be able to pin it.
"""

from __future__ import annotations

import sys
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ...tools.frames import MAX_SCALE, MIN_SCALE

DesktopPlatform = Literal["x11", "macos", "windows"]
UnicodeInput = Literal["clipboard", "xdotool"]


def detect_platform() -> DesktopPlatform:
    """The desktop family this process runs on (X11 stands for every Unix desktop)."""
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return "x11"


class Region(BaseModel):
    """A rectangle in mss coordinates (X11: pixels; macOS: points)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    left: int
    top: int
    width: int = Field(gt=0)
    height: int = Field(gt=0)

    @classmethod
    def parse(cls, text: str) -> Region:
        """Read ``WxH+X+Y`` (the X11 geometry form), e.g. ``800x600+1920+0``."""
        size, _, offset = text.strip().partition("+")
        width, _, height = size.partition("x")
        left, _, top = offset.partition("+")
        try:
            return cls(left=int(left), top=int(top), width=int(width), height=int(height))
        except ValueError as error:
            raise ValueError(f"region {text!r} is not WxH+X+Y, e.g. 800x600+1920+0") from error

    def as_mss(self) -> dict[str, int]:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}

    def __str__(self) -> str:
        return f"{self.width}x{self.height}+{self.left}+{self.top}"


class DesktopSettings(BaseModel):
    """How the desktop driver captures and types.

    ``monitor``: mss monitor number (1, 2 ... as mss numbers them; 0 = all
    monitors as one image; None = the primary monitor). ``region`` replaces the monitor's rectangle;
    ``scale``/``origin`` replace what detection found (physical pixels per
    input unit; input coordinates of the capture's top-left corner) for setups
    detection cannot see.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    monitor: int | None = Field(default=None, ge=0)
    # An X display other than $DISPLAY (":91"): captured by mss on that display and driven with xdotool,
    # because pyautogui binds a process to $DISPLAY; None = $DISPLAY through pyautogui.
    display: str | None = Field(default=None, pattern=r"^:\d+$")
    region: Region | None = None
    scale: float | None = Field(default=None, ge=MIN_SCALE, le=MAX_SCALE)  # the bounds refuse inf and nan too
    origin: tuple[int, int] | None = None
    platform: DesktopPlatform = Field(default_factory=detect_platform)
    failsafe: bool = True  # pointer into a screen corner stops the run
    pause: float = Field(default=0.05, ge=0, le=5, description="seconds pyautogui waits after each call")
    type_interval: float = Field(default=0.0, ge=0, le=1, description="seconds between typed keys")
    unicode_input: UnicodeInput = "clipboard"
    clipboard_settle: float = Field(
        default=0.3, ge=0, le=10, description="seconds the app gets to read the clipboard before it is restored"
    )

    @model_validator(mode="after")
    def _xdotool_needs_x11(self) -> DesktopSettings:
        if self.unicode_input == "xdotool" and self.platform != "x11":
            raise ValueError("unicode_input='xdotool' works only on X11")
        return self
