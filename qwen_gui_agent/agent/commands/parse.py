"""``agent parse``: read a model answer the way the agent would, and show where it would act.

Prints one JSON object per parsed action: its canonical name and text (model
frame), the frame it was read in, and the input-frame coordinates the device
would be given. A parse error, or an action the chosen kind of device does not
have, exits 2 with the model-facing message (what the agent would send back)
on stderr.

The default frame differs from ``agent run``'s on purpose: ``parse`` takes
Qwen2.5-VL's own preprocessor cap (``MAX_PIXELS``, 16384*28*28) because an
answer pasted from anywhere was most likely produced at that default, while
``agent run`` caps at 1280*28*28 to keep prompts short. Each line says which
frame it used; pass ``--max-pixels 1280*28*28`` to read a run's answers.

``--model`` picks the dialect, the coordinates and the frame (smart_resize's
factor, the pixel cap) from the registry (tools/models.py); a model it does
not know is an error that names ``--dialect``. Without ``--device`` the tool
name decides: an answer that calls ``mobile_use`` is read for a phone.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer

from ...tools.actions import TERMINAL_ACTIONS, Action, DeviceKind, Drag, Swipe
from ...tools.canonical import format_action
from ...tools.dialects import dialect_names, get_dialect
from ...tools.dialects.xml_calls import device_named
from ...tools.errors import ActionParseError
from ...tools.frames import (
    MAX_SCALE,
    MIN_SCALE,
    ModelFrame,
    ScreenGeometry,
    map_action,
    parse_pixels,
)
from ...tools.models import ModelFamily, model_setup
from .model_options import dialect_name_option

# What --device accepts: the kind of device, or a device spec as `agent run --device` takes it.
_DEVICE_KINDS: dict[str, DeviceKind] = {
    "computer": "computer",
    "desktop": "computer",
    "mobile": "mobile",
    "android": "mobile",
}


class Coords(StrEnum):
    absolute = "absolute"
    relative = "relative"


def _device_kind(text: str) -> DeviceKind:
    kind = _DEVICE_KINDS.get(text.split(":", 1)[0].strip().lower())
    if kind is None:
        raise typer.BadParameter(
            f"{text!r} is not a device: use computer or mobile (or a spec such as desktop, android:SERIAL)",
            param_hint="--device",
        )
    return kind


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


def action_record(action: Action, mapped: Action, frame: ModelFrame) -> dict[str, object]:
    """The JSON line for one action: canonical text in the model frame, coordinates in the input frame."""
    record: dict[str, object] = {
        "action": action.action,
        "text": format_action(action),
        "frame": f"{frame.width}x{frame.height}",
    }
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


def check_on_device(mapped: Action, device: DeviceKind, geometry: ScreenGeometry) -> str:
    """Plan ``mapped`` (input frame) as the device would, offline.

    Raises ``UnsupportedAction`` for an action this kind of device does not
    have. Returns a note for a refusal only a live device can settle (an app
    label the offline tables do not know), else "".
    """
    from ...devices.errors import UnsupportedAction

    if isinstance(mapped, TERMINAL_ACTIONS):
        return ""  # the loop ends the run on these; no device sees them
    try:
        if device == "computer":
            from ...devices.desktop.plan import plan_desktop
            from ...devices.desktop.settings import DesktopSettings

            plan_desktop(mapped, DesktopSettings())
        else:
            from ...devices.android.plan import plan_android
            from ...devices.android.settings import AndroidSettings

            plan_android(mapped, AndroidSettings(), (geometry.width, geometry.height))
    except UnsupportedAction:
        raise
    except ActionParseError as error:
        return f"a live device may refuse {mapped.action}: {error.describe()}"
    return ""


def _model_frame(
    width: int,
    height: int,
    frame: str | None,
    max_pixels: int | None,
    relative: bool,
    family: ModelFamily,
    relative_scale: int,
) -> ModelFrame:
    if frame is not None:
        frame_width, frame_height = _size(frame, "--frame")
        return ModelFrame(width=frame_width, height=frame_height, relative=relative, relative_scale=relative_scale)
    bounds = family.processor_frame  # a pasted answer came from a server that used the checkpoint's own bounds
    if max_pixels is not None:
        bounds = bounds.with_pixels(min(bounds.min_pixels, max_pixels), max_pixels)
    try:
        return ModelFrame.for_screen(width, height, bounds, relative=relative, relative_scale=relative_scale)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--screen") from None


def _family(model: str | None, dialect: str | None) -> ModelFamily:
    """The family whose frame rules apply (the registry's rule): the model's, else the one the dialect was made for."""
    setup = model_setup(model, dialect=dialect)
    if model is not None and setup.match is None and dialect is None:
        raise typer.BadParameter(
            f"{model!r} is not a model `agent models` knows: name its answer format with --dialect "
            f"({'|'.join(dialect_names())}) and, for 0..1000 answers, --coords relative",
            param_hint="--model",
        )
    return setup.family


def register(app: typer.Typer) -> None:
    @app.command("parse")
    def parse_command(
        text: Annotated[str, typer.Argument(help="The model's answer; '-' reads it from stdin.")],
        screen: Annotated[str, typer.Option("--screen", help="Screenshot size in physical pixels, WxH.")],
        model: Annotated[
            str | None,
            typer.Option(
                "--model",
                help="The model that answered (hub id, local directory, served name): picks the dialect, "
                "the coordinates and the frame.",
            ),
        ] = None,
        dialect: Annotated[
            str | None,
            typer.Option(
                "--dialect",
                callback=dialect_name_option,
                help=f"How the model answers: {', '.join(dialect_names())} (default: the model's, else qwen).",
            ),
        ] = None,
        scale: Annotated[
            float, typer.Option("--scale", help="Physical pixels per input unit (2 on a 2x HiDPI screen).")
        ] = 1.0,
        origin: Annotated[
            str, typer.Option("--origin", help="Input coordinates of the screen's top-left corner, X,Y.")
        ] = "0,0",
        frame: Annotated[
            str | None, typer.Option("--frame", help="The model's image size WxH (default: smart_resize).")
        ] = None,
        max_pixels: Annotated[
            int | None,
            typer.Option(
                "--max-pixels",
                parser=parse_pixels,
                metavar="N",
                help="smart_resize cap, e.g. 1280*28*28 as `agent run` uses (default: the model's own preprocessor cap, "
                "16384*28*28 for Qwen2.5-VL).",
            ),
        ] = None,
        coords: Annotated[
            Coords | None,
            typer.Option(
                "--coords", help="Answer coordinates: pixels or thousandths (default: the model's, else pixels)."
            ),
        ] = None,
        device: Annotated[
            str | None,
            typer.Option(
                "--device",
                "-d",
                help="The kind of device: computer or mobile (desktop/android specs work too); "
                "default: the tool the answer calls (mobile_use: mobile), else computer.",
            ),
        ] = None,
    ) -> None:
        """Parse a model answer and print each action with its input-frame coordinates, one JSON per line."""
        if frame is not None and max_pixels is not None:
            raise typer.BadParameter("give --frame or --max-pixels, not both", param_hint="--frame")
        width, height = _size(screen, "--screen")
        origin_x, origin_y = _origin(origin)
        if not MIN_SCALE <= scale <= MAX_SCALE:  # also refuses inf and nan
            raise typer.BadParameter(f"must be between {MIN_SCALE:g} and {MAX_SCALE:g}", param_hint="--scale")
        geometry = ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin_x, origin_y=origin_y)
        family = _family(model, dialect)
        reader = get_dialect(dialect or family.dialect, coordinates=coords.value if coords else family.coordinates)
        model_frame = _model_frame(width, height, frame, max_pixels, reader.relative, family, reader.relative_scale)
        answer = sys.stdin.read() if text == "-" else text
        kind = _device_kind(device) if device is not None else (device_named(answer) or "computer")
        try:
            parsed = reader.parse(answer, model_frame)
            mapped = [map_action(action, model_frame, geometry) for action in parsed.actions]
            notes = [check_on_device(action, kind, geometry) for action in mapped]
        except ActionParseError as error:  # UnsupportedAction included: the device would refuse it the same way
            label = f"not a {kind} action" if _is_unsupported(error) else "parse error"
            typer.echo(f"{label}: {error.feedback()}", err=True)
            raise typer.Exit(2) from None
        for action, input_action, note in zip(parsed.actions, mapped, notes, strict=True):
            if note:
                typer.echo(f"note: {note}", err=True)
            typer.echo(json.dumps(action_record(action, input_action, model_frame), ensure_ascii=False))


def _is_unsupported(error: ActionParseError) -> bool:
    from ...devices.errors import UnsupportedAction

    return isinstance(error, UnsupportedAction)
