"""``agent parse``: read a model answer the way the agent would, and show where it would act.

Prints one JSON object per parsed action: its canonical name and text (model
frame) and the input-frame coordinates the device would be given. A parse
error exits 2 with the model-facing message on stderr.
"""

from __future__ import annotations

import json
import sys
from enum import Enum

import typer

from tools.actions import Action, Drag, Swipe
from tools.canonical import format_action
from tools.dialects import DIALECT_NAMES, get_dialect
from tools.errors import ActionParseError
from tools.frames import MAX_PIXELS, MIN_PIXELS, ModelFrame, ScreenGeometry, map_action

# Actions that only one kind of device performs; the other kind refuses them at run time.
_ONLY_ON = {
    "computer": {"double_click", "right_click", "middle_click", "move", "drag"},
    "mobile": {"long_press", "swipe", "open_app", "press_back", "press_home"},
}

DialectName = Enum("DialectName", {name: name for name in DIALECT_NAMES}, type=str)  # type: ignore[misc]


class Coords(str, Enum):
    absolute = "absolute"
    relative = "relative"


class DeviceChoice(str, Enum):
    computer = "computer"
    mobile = "mobile"


def _size(text: str, option: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise typer.BadParameter(f"expected WIDTHxHEIGHT such as 1920x1080, got {text!r}", param_hint=option) from None
    if width <= 0 or height <= 0:
        raise typer.BadParameter("width and height must be positive", param_hint=option)
    return width, height


def _origin(text: str) -> tuple[int, int]:
    try:
        x, y = (int(part) for part in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected X,Y such as -1920,0, got {text!r}", param_hint="--origin") from None
    return x, y


def action_record(action: Action, mapped: Action) -> dict[str, object]:
    """The JSON line for one action: canonical text in the model frame, coordinates in the input frame."""
    record: dict[str, object] = {"action": action.action, "text": format_action(action)}
    match mapped:
        case Drag() | Swipe():
            if mapped.start is not None:
                record["x"], record["y"] = mapped.start.x, mapped.start.y
            record["end_x"], record["end_y"] = mapped.end.x, mapped.end.y
        case _:
            points = mapped.points()
            if points:
                record["x"], record["y"] = points[0].x, points[0].y
    record["input_text"] = format_action(mapped)
    return record


def register(app: typer.Typer) -> None:
    @app.command("parse")
    def parse_command(
        text: str = typer.Argument(..., help="The model's answer; '-' reads it from stdin."),
        dialect: DialectName = typer.Option("qwen", "--dialect", "-d", help="How the model answers."),
        screen: str = typer.Option(..., "--screen", help="Screenshot size in physical pixels, WxH."),
        scale: float = typer.Option(1.0, "--scale", help="Physical pixels per input unit (2 on a 2x HiDPI screen)."),
        origin: str = typer.Option("0,0", "--origin", help="Input coordinates of the screen's top-left corner, X,Y."),
        frame: str | None = typer.Option(None, "--frame", help="The model's image size WxH (default: smart_resize)."),
        max_pixels: int | None = typer.Option(None, "--max-pixels", help=f"smart_resize cap (default {MAX_PIXELS})."),
        coords: Coords = typer.Option(Coords.absolute, "--coords", help="Answer coordinates: pixels or 0..1000."),
        device: DeviceChoice = typer.Option(DeviceChoice.computer, "--device", help="The kind of device."),
    ) -> None:
        """Parse a model answer and print each action with its input-frame coordinates, one JSON per line."""
        if frame is not None and max_pixels is not None:
            raise typer.BadParameter("give --frame or --max-pixels, not both", param_hint="--frame")
        width, height = _size(screen, "--screen")
        origin_x, origin_y = _origin(origin)
        if not scale > 0:
            raise typer.BadParameter("must be positive", param_hint="--scale")
        geometry = ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin_x, origin_y=origin_y)
        relative = coords is Coords.relative
        if frame is not None:
            frame_width, frame_height = _size(frame, "--frame")
            model_frame = ModelFrame(width=frame_width, height=frame_height, relative=relative)
        else:
            cap = max_pixels if max_pixels is not None else MAX_PIXELS
            try:
                model_frame = ModelFrame.for_screen(width, height, min_pixels=min(MIN_PIXELS, cap), max_pixels=cap,
                                                    relative=relative)
            except ValueError as error:
                raise typer.BadParameter(str(error), param_hint="--screen") from None
        answer = sys.stdin.read() if text == "-" else text
        try:
            parsed = get_dialect(dialect.value, coordinates=coords.value).parse(answer, model_frame)
        except ActionParseError as error:
            typer.echo(f"parse error: {error.feedback()}", err=True)
            raise typer.Exit(2) from None
        for action in parsed.actions:
            if action.action in _ONLY_ON["mobile" if device is DeviceChoice.computer else "computer"]:
                typer.echo(f"note: {action.action} is not a {device.value} action", err=True)
            record = action_record(action, map_action(action, model_frame, geometry))
            typer.echo(json.dumps(record, ensure_ascii=False))
