"""How the task is shown and where it lands: page zoom, device scale factor, CSS px -> screen px -> image px.

MiniWoB++'s task area (``#wrap``) is 160x210 CSS px: too small for a model to read. The browser
shows it zoomed (Chromium's own page zoom, as a person would press Ctrl-+), on a screen of
``scale`` physical pixels per device-independent pixel (``--force-device-scale-factor``: 2 is a
HiDPI screen). One CSS px is then ``zoom * scale`` screen pixels, and the agent's device captures
exactly the task area: a ``zoom * scale`` times larger screenshot of what MiniWoB++'s own
observation crops.

Pure arithmetic, no browser: the browser module measures a ``PageGeometry``; this module turns
CSS rectangles into screen regions and points into the pixels of the image a model was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ....devices.desktop.settings import Region

TASK_WIDTH = 160  # MiniWoB++'s task area in CSS px (core.css: #wrap)
TASK_HEIGHT = 210
# The window's page in CSS px: the task area, the reward display beside it, and room below for popups.
WINDOW_CSS = (400, 330)
MIN_ZOOM, MAX_ZOOM = 0.5, 5.0  # Chromium's page zoom range is 0.25..5
MIN_SCALE, MAX_SCALE = 1.0, 4.0


@dataclass(frozen=True)
class View:
    """How the page is shown: Chromium's page zoom and the screen's device scale factor."""

    zoom: float = 3.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not MIN_ZOOM <= self.zoom <= MAX_ZOOM:
            raise ValueError(f"zoom {self.zoom:g} is outside {MIN_ZOOM:g}..{MAX_ZOOM:g}")
        if not MIN_SCALE <= self.scale <= MAX_SCALE:
            raise ValueError(f"scale {self.scale:g} is outside {MIN_SCALE:g}..{MAX_SCALE:g}")

    @property
    def pixels_per_css(self) -> float:
        return self.zoom * self.scale

    @property
    def zoom_level(self) -> float:
        """Chromium's zoom level for this zoom (its preference stores log base 1.2 of the factor)."""
        return math.log(self.zoom) / math.log(1.2)

    def window_size(self) -> tuple[int, int]:
        """The window in device-independent pixels (what ``--window-size`` takes)."""
        return math.ceil(WINDOW_CSS[0] * self.zoom), math.ceil(WINDOW_CSS[1] * self.zoom)

    def screen_size(self) -> tuple[int, int]:
        """An X screen in physical pixels that holds the window at the top-left corner."""
        width, height = self.window_size()
        return math.ceil(width * self.scale), math.ceil(height * self.scale)

    def describe(self) -> dict[str, float]:
        return {"zoom": self.zoom, "scale": self.scale, "pixels_per_css": self.pixels_per_css}


@dataclass(frozen=True)
class CssRect:
    """A rectangle in CSS px of the viewport (what getBoundingClientRect returns)."""

    left: float
    top: float
    width: float
    height: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.left + self.width / 2, self.top + self.height / 2


@dataclass(frozen=True)
class PageGeometry:
    """Where the viewport sits on the screen: its CSS (0,0) at ``origin`` physical px, ``pixels_per_css`` apart."""

    origin_x: int
    origin_y: int
    pixels_per_css: float

    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        """A CSS point of the viewport -> physical screen pixels (continuous)."""
        return self.origin_x + x * self.pixels_per_css, self.origin_y + y * self.pixels_per_css

    def region_of(self, rect: CssRect) -> Region:
        """The screen pixels a CSS rectangle covers (edges rounded to whole pixels)."""
        left, top = self.to_screen(rect.left, rect.top)
        right, bottom = self.to_screen(rect.left + rect.width, rect.top + rect.height)
        return Region(
            left=round(left), top=round(top), width=round(right) - round(left), height=round(bottom) - round(top)
        )


@dataclass(frozen=True)
class TaskArea:
    """The task area as the agent's device captures it: a screen region, and the page it shows."""

    geometry: PageGeometry
    region: Region

    @classmethod
    def of(cls, geometry: PageGeometry, wrap: CssRect) -> TaskArea:
        return cls(geometry=geometry, region=geometry.region_of(wrap))

    def to_image(self, x: float, y: float, image_size: tuple[int, int]) -> tuple[float, float]:
        """A CSS point of the viewport -> pixels of a capture of the area resized to ``image_size``."""
        screen_x, screen_y = self.geometry.to_screen(x, y)
        width, height = image_size
        return (
            (screen_x - self.region.left) * width / self.region.width,
            (screen_y - self.region.top) * height / self.region.height,
        )

    def contains(self, x: float, y: float) -> bool:
        """Whether a CSS point of the viewport shows inside the captured area."""
        screen_x, screen_y = self.geometry.to_screen(x, y)
        return (
            self.region.left <= screen_x < self.region.left + self.region.width
            and self.region.top <= screen_y < self.region.top + self.region.height
        )
