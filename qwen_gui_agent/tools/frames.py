"""Coordinate frames and the one mapping between them.

Three frames (DESIGN.md): the *model frame* (pixels of the image the model saw
after ``smart_resize``, or 0..1000 relative), the *screenshot frame* (physical
pixels of the capture) and the *input frame* (what the input driver takes:
logical points plus the monitor's origin). ``to_input_point`` is the only code
that converts forward between them, ``input_to_screenshot`` the only way back
(for drawing recorded actions and replaying them on another screen); everything
else calls these.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from PIL import Image

from .actions import Action, Point, with_points
from .canonical import parse_point
from .errors import ActionParseError

PATCH_FACTOR = 28  # 14 px patches merged 2x2
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 16384 * 28 * 28  # Qwen2.5-VL's preprocessor default
SERVING_MAX_PIXELS = 1280 * 28 * 28  # a common deployment cap
MAX_ASPECT_RATIO = 200
RELATIVE_SCALE = 1000  # UI-TARS-1.0 / Qwen2-VL / GUI-Owl-1.5 answer in 0..1000, divided by 1000
# Qwen3-VL's own agent code divides its 0..999 answers by 999 (docs/models.md says where).
RELATIVE_SCALES = (1000, 999)


def parse_pixels(text: str | int) -> int:
    """A pixel count: ``1003520`` or a product such as ``1280*28*28``."""
    if isinstance(text, int):
        return text
    if not re.fullmatch(r"\s*\d+(\s*[*x]\s*\d+)*\s*", text):
        raise ValueError(f"{text!r} is not a pixel count (a number, or a product like 1280*28*28)")
    result = 1
    for factor in re.split(r"[*x]", text):
        result *= int(factor)
    if result <= 0:
        raise ValueError(f"{text!r} is not a pixel count (it must be positive)")
    return result


def _round_by(number: float, factor: int) -> int:
    return round(number / factor) * factor


def _floor_by(number: float, factor: int) -> int:
    return math.floor(number / factor) * factor


def _ceil_by(number: float, factor: int) -> int:
    return math.ceil(number / factor) * factor


def smart_resize(
    height: int, width: int, factor: int = PATCH_FACTOR, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """The (height, width) Qwen2.5-VL resizes an image to; same results as qwen-vl-utils."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise ValueError(f"aspect ratio of {width}x{height} is above {MAX_ASPECT_RATIO}")
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, _floor_by(height / beta, factor))
        w_bar = max(factor, _floor_by(width / beta, factor))
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return h_bar, w_bar


@dataclass(frozen=True)
class FrameBounds:
    """What ``smart_resize`` fits a screenshot into: its pixel bounds and the factor each side rounds to.

    One value per model family in the registry (tools/models.py), carried whole by the settings
    objects that need it: ``factor`` is patch size x merge size (28 for Qwen2.5-VL, 32 for Qwen3-VL).
    The defaults are Qwen2.5-VL's preprocessor's, as ``smart_resize``'s are.
    """

    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS
    factor: int = PATCH_FACTOR

    def __post_init__(self) -> None:
        if min(self.min_pixels, self.max_pixels, self.factor) <= 0:
            raise ValueError(f"frame bounds must be positive: {self}")
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} is above max_pixels {self.max_pixels}")

    def with_pixels(self, min_pixels: int | None = None, max_pixels: int | None = None) -> FrameBounds:
        """These bounds with either pixel bound replaced (None keeps it)."""
        return FrameBounds(
            self.min_pixels if min_pixels is None else min_pixels,
            self.max_pixels if max_pixels is None else max_pixels,
            self.factor,
        )

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) an image of this size becomes: ``smart_resize`` at these bounds."""
        h, w = smart_resize(height, width, factor=self.factor, min_pixels=self.min_pixels, max_pixels=self.max_pixels)
        return w, h

    def tokens(self, width: int, height: int) -> int:
        """Merged patches (image tokens, markers aside) of an image already ``width`` x ``height``."""
        return max(1, round(width / self.factor)) * max(1, round(height / self.factor))


@dataclass(frozen=True)
class ModelFrame:
    """The coordinate space of a model's answer.

    ``width`` x ``height`` are the pixels of the image the model saw. With
    ``relative``, answers are thousandths on both axes whatever that size:
    ``relative_scale`` is what the far edge is worth (1000, or 999 for Qwen3-VL).
    A relative answer may still say 1000 on a 999 scale (Qwen3-VL's computer prompt
    names a 1000x1000 screen): that is the far edge, one unit of slack, never more.
    """

    width: int
    height: int
    relative: bool = False
    relative_scale: int = RELATIVE_SCALE

    def __post_init__(self) -> None:
        if self.relative_scale not in RELATIVE_SCALES:
            raise ValueError(f"relative_scale must be one of {RELATIVE_SCALES}, not {self.relative_scale}")

    @classmethod
    def for_screen(
        cls,
        width: int,
        height: int,
        bounds: FrameBounds | None = None,
        *,
        relative: bool = False,
        relative_scale: int = RELATIVE_SCALE,
    ) -> ModelFrame:
        """The frame of a ``width`` x ``height`` screenshot at the model's bounds (Qwen2.5-VL's preprocessor
        defaults when None)."""
        w, h = (bounds or FrameBounds()).resized(width, height)
        return cls(width=w, height=h, relative=relative, relative_scale=relative_scale)

    @property
    def extent(self) -> tuple[int, int]:
        """What the far edge is worth on each axis: the divisor of the mapping."""
        return (self.relative_scale, self.relative_scale) if self.relative else (self.width, self.height)

    @property
    def limits(self) -> tuple[int, int]:
        """The largest coordinate an answer may use on each axis (the extent, or 1000 for any relative frame)."""
        if self.relative:
            return RELATIVE_SCALE, RELATIVE_SCALE
        return self.width, self.height

    def check(self, point: Point) -> None:
        """Raise ActionParseError if ``point`` lies outside this frame."""
        max_x, max_y = self.limits
        if not (0 <= point.x <= max_x and 0 <= point.y <= max_y):
            raise ActionParseError(
                f"point {point} is outside the screen",
                expected=f"x in 0..{max_x} and y in 0..{max_y}"
                + (" (relative coordinates)" if self.relative else f" (the screen is {self.width}x{self.height})"),
            )

    def __str__(self) -> str:
        if not self.relative:
            return f"{self.width}x{self.height}"
        return f"{self.width}x{self.height} relative" + ("" if self.relative_scale == RELATIVE_SCALE else " 0..999")


# Physical pixels per input unit: HiDPI screens use 1 to 4; far outside this range is a typo that would put
# every click at the origin (tiny) or overflow (huge, inf); nan compares false with everything.
MIN_SCALE = 1 / 16
MAX_SCALE = 16.0


@dataclass(frozen=True)
class ScreenGeometry:
    """Where a screenshot sits in the input driver's space.

    ``width`` x ``height``: physical pixels of the capture. ``scale``: physical
    pixels per input unit (2.0 on a 2x HiDPI screen whose driver takes logical
    points; 1.0 for adb). ``origin_x``/``origin_y``: the input coordinates of
    the capture's top-left corner (a monitor's offset on a multi-monitor desktop).
    """

    width: int
    height: int
    scale: float = 1.0
    origin_x: int = 0
    origin_y: int = 0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or not MIN_SCALE <= self.scale <= MAX_SCALE:
            raise ValueError(f"bad screen geometry {self} (the scale must be between {MIN_SCALE:g} and {MAX_SCALE:g})")


def to_screenshot_point(point: Point, frame: ModelFrame, geometry: ScreenGeometry) -> tuple[float, float]:
    """Model frame -> screenshot pixels (continuous)."""
    frame.check(point)
    max_x, max_y = frame.extent
    return point.x * geometry.width / max_x, point.y * geometry.height / max_y


def screenshot_to_input(x: float, y: float, geometry: ScreenGeometry) -> Point:
    """Screenshot pixels -> the input driver's integer coordinates."""
    # Clamp in input units: the far edge of the frame maps to the last input point still on the
    # screen (clamping in screenshot pixels first lands 1+ unit short, or past the edge, at scale != 1).
    last_x = math.ceil(geometry.width / geometry.scale) - 1
    last_y = math.ceil(geometry.height / geometry.scale) - 1
    return Point(
        x=geometry.origin_x + min(max(math.floor(x / geometry.scale + 0.5), 0), last_x),
        y=geometry.origin_y + min(max(math.floor(y / geometry.scale + 0.5), 0), last_y),
    )


def input_to_screenshot(point: Point, geometry: ScreenGeometry) -> tuple[float, float]:
    """Input frame -> screenshot pixels (continuous): the inverse of ``screenshot_to_input``, for
    drawing a recorded action on its screenshot or replaying it on another screen."""
    return (point.x - geometry.origin_x) * geometry.scale, (point.y - geometry.origin_y) * geometry.scale


def to_input_point(point: Point, frame: ModelFrame | None, geometry: ScreenGeometry) -> Point:
    """Model frame (or screenshot pixels when ``frame`` is None) -> input frame.

    Screenshot pixels are checked and mapped as the frame of the screenshot's own size: one rule
    for every point (``x in 0..W``, the far edge being the last pixel), whether it comes from a
    model, a task file's ``frame:`` or ``agent do``.
    """
    if frame is None:
        frame = screenshot_frame(geometry)
    return screenshot_to_input(*to_screenshot_point(point, frame, geometry), geometry)


def screenshot_frame(geometry: ScreenGeometry) -> ModelFrame:
    """The frame literal points without a ``frame`` are written in: the screenshot's pixels."""
    return ModelFrame(width=geometry.width, height=geometry.height)


def map_action(action: Action, frame: ModelFrame | None, geometry: ScreenGeometry) -> Action:
    """Every point of ``action`` from the model frame to the input frame."""
    return with_points(action, lambda point: to_input_point(point, frame, geometry))


def read_point(value: object, frame: ModelFrame) -> Point:
    """A point in any form a model writes (see ``parse_point``), checked to lie inside ``frame``."""
    point = parse_point(value)
    frame.check(point)
    return point


def check_action(action: Action, frame: ModelFrame) -> None:
    """Raise ActionParseError if any point of ``action`` lies outside ``frame``."""
    for point in action.points():
        frame.check(point)


def resize_to_frame(image: Image.Image, frame: ModelFrame) -> Image.Image:
    """The image the model sees: exactly the frame's size, so no server resizes it again."""
    image = image.convert("RGB") if image.mode != "RGB" else image
    if image.size == (frame.width, frame.height):
        return image
    return image.resize((frame.width, frame.height), Image.Resampling.BICUBIC)
