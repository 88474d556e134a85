"""Where each step's actions landed on its screenshot, as an SVG overlay.

Markers are placed in *screenshot pixels* (the SVG's viewBox is the capture's
size, so the overlay scales with the downscaled image). Points come from the
input-frame actions the device got, placed by undoing the recorded geometry's
scale and origin (exact whatever frame the action was given in); a step where
nothing ran shows its proposed actions through the recorded frame and
``qwen_gui_agent.tools.frames`` (the one model -> screenshot mapping).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from ...tools.actions import (
    Action,
    Click,
    DoubleClick,
    Drag,
    LongPress,
    MiddleClick,
    Move,
    Point,
    RightClick,
    Scroll,
    Swipe,
    TripleClick,
)
from ...tools.canonical import parse_action
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame, ScreenGeometry, input_to_screenshot, to_screenshot_point
from ..records.run_files import GeometryRecord, StepRecord, is_launch_record

log = logging.getLogger(__name__)

XY = tuple[float, float]
Locator = Callable[[Point], XY]  # a recorded point -> screenshot pixels

# One colour per kind of gesture, so a right click is not mistaken for a left one.
MARKER_COLOURS = {
    "click": "#e5243b",
    "double_click": "#ff7a00",
    "right_click": "#8e44ad",
    "middle_click": "#2980b9",
    "long_press": "#c0392b",
    "move": "#16a085",
    "drag": "#d35400",
    "swipe": "#d35400",
    "scroll": "#2471a3",
}

_SCROLL_VECTORS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


@dataclass(frozen=True)
class Marker:
    """One gesture on a screenshot, in screenshot pixels."""

    kind: str
    at: XY | None  # None: a drag that starts wherever the pointer is
    end: XY | None = None
    direction: str | None = None
    number: int = 1  # the action's position within its step


def step_markers(step: StepRecord) -> tuple[Marker, ...]:
    """The gestures of ``step`` placed on its screenshot; empty when it cannot be placed."""
    if step.geometry is None:
        return ()
    geometry = _geometry(step.geometry)
    try:
        if step.executed:  # what the device got, placed exactly through the recorded geometry
            locate = _input_locator(geometry)
            actions = [
                parse_action(executed.action) for executed in step.executed if not is_launch_record(executed.action)
            ]
        else:  # nothing ran (a dry run of an older format, a declined action): show what was proposed
            locate = _model_locator(step, geometry)
            actions = [parse_action(text) for text in step.actions if not is_launch_record(text)]
        return tuple(
            marker
            for number, action in enumerate(actions, start=1)
            if (marker := _marker(action, locate, geometry, number)) is not None
        )
    except (ActionParseError, ValueError) as error:
        # A record this code cannot place is still shown as text; the overlay is a convenience.
        reason = error.describe() if isinstance(error, ActionParseError) else str(error)
        log.warning("step %d: cannot place its actions on the screenshot: %s", step.index, reason)
        return ()


def _geometry(record: GeometryRecord) -> ScreenGeometry:
    return ScreenGeometry(**record.model_dump())


def _model_locator(step: StepRecord, geometry: ScreenGeometry) -> Locator:
    if step.frame is None:  # actions given in screenshot pixels (literal `do` steps)
        return lambda point: (float(point.x), float(point.y))
    frame = ModelFrame(**step.frame.model_dump())
    return lambda point: to_screenshot_point(point, frame, geometry)


def _input_locator(geometry: ScreenGeometry) -> Locator:
    return lambda point: input_to_screenshot(point, geometry)


def _marker(action: Action, locate: Locator, geometry: ScreenGeometry, number: int) -> Marker | None:
    match action:
        case Click() | DoubleClick() | TripleClick() | RightClick() | MiddleClick() | LongPress() | Move():
            return Marker(kind=action.action, at=locate(action.point), number=number)
        case Drag() | Swipe():
            start = locate(action.start) if action.start is not None else None
            return Marker(kind=action.action, at=start, end=locate(action.end), number=number)
        case Scroll():
            centre = Point(x=geometry.width // 2, y=geometry.height // 2)
            at = locate(action.point) if action.point is not None else (float(centre.x), float(centre.y))
            return Marker(kind="scroll", at=at, direction=action.direction, number=number)
        case _:
            return None  # typing, keys, waits: nothing to point at


def overlay_svg(markers: tuple[Marker, ...], width: int, height: int) -> str:
    """An SVG layer the size of the screenshot with one group per marker."""
    if not markers:
        return ""
    radius = max(width, height) / 70
    stroke = max(radius / 4, 1.5)
    body = "".join(_marker_svg(marker, radius, stroke) for marker in markers)
    return (
        f'<svg class="overlay" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'aria-hidden="true">{body}</svg>'
    )


def _marker_svg(marker: Marker, radius: float, stroke: float) -> str:
    colour = MARKER_COLOURS.get(marker.kind, "#e5243b")
    attributes = f'class="marker marker-{escape(marker.kind)}" data-number="{marker.number}"'
    parts: list[str] = []
    if marker.at is not None:
        x, y = marker.at
        attributes += f' data-x="{x:.1f}" data-y="{y:.1f}"'
        parts.append(_target(x, y, radius, stroke, colour, hollow=marker.kind == "move"))
        if marker.kind == "double_click":
            parts.append(_circle(x, y, radius * 1.6, stroke, colour))
        if marker.kind == "long_press":
            parts.append(_circle(x, y, radius * 2.0, stroke, colour, dash=True))
        parts.append(_label(x + radius * 1.4, y - radius * 1.4, marker.number, radius, colour))
    if marker.end is not None:
        ex, ey = marker.end
        attributes += f' data-end-x="{ex:.1f}" data-end-y="{ey:.1f}"'
        if marker.at is not None:
            parts.append(_arrow(marker.at, marker.end, radius, stroke, colour))
        parts.append(_circle(ex, ey, radius * 0.8, stroke, colour))
    if marker.direction is not None and marker.at is not None:
        dx, dy = _SCROLL_VECTORS[marker.direction]
        x, y = marker.at
        attributes += f' data-direction="{escape(marker.direction)}"'
        parts.append(_arrow((x, y), (x + dx * radius * 5, y + dy * radius * 5), radius, stroke, colour))
    return f"<g {attributes}>{''.join(parts)}</g>"


def _circle(x: float, y: float, r: float, stroke: float, colour: str, *, dash: bool = False) -> str:
    dashes = f' stroke-dasharray="{stroke * 2:.1f}"' if dash else ""
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="none" stroke="{colour}" '
        f'stroke-width="{stroke:.1f}"{dashes}/>'
    )


def _target(x: float, y: float, r: float, stroke: float, colour: str, *, hollow: bool) -> str:
    fill = "none" if hollow else colour
    return (
        _circle(x, y, r, stroke, colour)
        + f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r / 4:.1f}" fill="{fill}" stroke="{colour}"/>'
        + f'<line x1="{x - r * 1.5:.1f}" y1="{y:.1f}" x2="{x + r * 1.5:.1f}" y2="{y:.1f}" '
        f'stroke="white" stroke-width="{stroke / 2:.1f}"/>'
        + f'<line x1="{x:.1f}" y1="{y - r * 1.5:.1f}" x2="{x:.1f}" y2="{y + r * 1.5:.1f}" '
        f'stroke="white" stroke-width="{stroke / 2:.1f}"/>'
    )


def _arrow(start: XY, end: XY, r: float, stroke: float, colour: str) -> str:
    (x1, y1), (x2, y2) = start, end
    length = max(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5, 1e-6)
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    head = r * 1.2
    # Two barbs at the end, drawn back along the line and turned +-30 degrees.
    left = (x2 - head * (ux * 0.866 - uy * 0.5), y2 - head * (uy * 0.866 + ux * 0.5))
    right = (x2 - head * (ux * 0.866 + uy * 0.5), y2 - head * (uy * 0.866 - ux * 0.5))
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
        f'stroke-width="{stroke:.1f}" stroke-linecap="round"/>'
        f'<polygon points="{x2:.1f},{y2:.1f} {left[0]:.1f},{left[1]:.1f} {right[0]:.1f},{right[1]:.1f}" '
        f'fill="{colour}"/>'
    )


def _label(x: float, y: float, number: int, r: float, colour: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{r * 1.6:.1f}" font-family="sans-serif" '
        f'font-weight="bold" fill="{colour}" stroke="white" stroke-width="{r / 8:.1f}" '
        f'paint-order="stroke">{number}</text>'
    )
