"""``agent devices``, ``agent screenshot`` and ``agent do``: list, capture and act on one device.

They take the shared device flags (``device_options``: flag, then environment variable, then default).

Exit codes: 0 done, 1 device error (with a hint), 2 bad action text or flags.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from .device_options import AdbHostOpt, AdbPortOpt, DeviceFlags, android_settings_for_cli, open_device_for_cli

if TYPE_CHECKING:
    from ...tools.errors import ActionParseError


def register(app: typer.Typer) -> None:
    from .flag_groups import with_flag_groups

    app.command("devices", help="List the desktop monitors and Android devices that can be reached.")(devices_command)
    app.command("screenshot", help="Save one screenshot of a device.")(
        with_flag_groups(device=DeviceFlags)(screenshot_command)
    )
    app.command("do", help="Execute one action, e.g. agent do \"click(start_box='(100,200)')\".")(
        with_flag_groups(device=DeviceFlags)(do_command)
    )


def devices_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    adb_host: AdbHostOpt = None,
    adb_port: AdbPortOpt = None,
) -> None:
    from ...devices import list_devices

    flags = DeviceFlags(adb_host=adb_host, adb_port=adb_port)
    entries = list_devices(android=android_settings_for_cli(flags, os.environ))
    out = Console(soft_wrap=True, highlight=False)
    for entry in entries:
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "spec": entry.spec,
                        "kind": entry.kind,
                        "available": entry.available,
                        "summary": entry.summary,
                        "details": entry.details,
                        "hint": entry.hint,
                    },
                    ensure_ascii=False,
                ),
                indent=None,
            )
        elif entry.available:
            out.print(f"{escape(entry.spec):<28} {escape(entry.summary)}")
        else:
            out.print(f"{escape(entry.spec):<28} [yellow]unavailable:[/yellow] {escape(entry.summary)}")
            if entry.hint:
                out.print(f"{'':<28} [dim]{escape(entry.hint)}[/dim]")


def screenshot_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Image file to write (PNG, JPEG ... by extension).")],
    *,
    device: DeviceFlags,
) -> None:
    from ...devices.errors import DeviceError

    err = Console(stderr=True, soft_wrap=True)
    try:
        with open_device_for_cli(device, os.environ) as opened:
            shot = opened.screenshot()
            name = opened.name
    except DeviceError as error:
        _device_failure(err, error)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)  # -o shots/today/x.png makes its folders, as --out does
        shot.image.save(output)
    except (OSError, ValueError) as error:
        err.print(f"[red]cannot write {escape(str(output))}:[/red] {escape(str(error))}")
        raise typer.Exit(1) from None
    g = shot.geometry
    Console(soft_wrap=True, highlight=False).print(
        f"{escape(str(output))}: {g.width}x{g.height} from {escape(name)}, origin ({g.origin_x},{g.origin_y}), "
        f"scale {g.scale:g}, captured in {shot.capture_ms:.1f} ms"
    )


def do_command(
    action_text: Annotated[str, typer.Argument(metavar="ACTION", help="One action in canonical text form.")],
    frame: Annotated[
        str | None,
        typer.Option(
            "--frame", help="WxH of the image the coordinates refer to (a model frame); default: screenshot pixels."
        ),
    ] = None,
    relative: Annotated[bool, typer.Option("--relative", help="Coordinates are 0..1000 on both axes.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the device commands without sending them.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
    *,
    device: DeviceFlags,
) -> None:
    from ...devices.errors import DeviceError
    from ...tools.actions import TERMINAL_ACTIONS
    from ...tools.canonical import format_action, parse_action
    from ...tools.errors import ActionParseError
    from ...tools.frames import ModelFrame, map_action

    err = Console(stderr=True, soft_wrap=True)
    try:
        action = parse_action(action_text)
    except ActionParseError as error:
        _bad_action(err, error)
    if isinstance(action, TERMINAL_ACTIONS):
        err.print(f"[red]{escape(action.action)} ends a run; it is not something a device can do[/red]")
        raise typer.Exit(2)
    frame_size = _frame_size(frame)
    try:
        with open_device_for_cli(device, os.environ) as opened:
            geometry = opened.screenshot().geometry
            model_frame = None  # coordinates are screenshot pixels
            if frame_size is not None or relative:
                width, height = frame_size or (geometry.width, geometry.height)
                model_frame = ModelFrame(width, height, relative=relative)
            mapped = map_action(action, model_frame, geometry)
            commands = opened.plan(mapped) if dry_run else opened.execute(mapped).commands
    except ActionParseError as error:  # a point off the screen, or an action this device does not have
        _bad_action(err, error)
    except DeviceError as error:
        _device_failure(err, error)
    out = Console(soft_wrap=True, highlight=False)
    if as_json:
        out.print_json(
            json.dumps(
                {"action": format_action(mapped), "commands": list(commands), "dry_run": dry_run}, ensure_ascii=False
            ),
            indent=None,
        )
        return
    verb = "would send" if dry_run else "sent"
    out.print(f"{escape(format_action(mapped))}  [dim]{verb}:[/dim] {escape(' | '.join(commands))}")


def _frame_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or int(width) <= 0 or int(height) <= 0:
        raise typer.BadParameter(f"--frame {text!r} is not WxH, e.g. 1316x728")
    return int(width), int(height)


def _bad_action(err: Console, error: ActionParseError) -> NoReturn:
    err.print(f"[red]bad action:[/red] {escape(error.describe())}")
    raise typer.Exit(2) from None


def _device_failure(err: Console, error: Exception) -> NoReturn:
    err.print(f"[red]device error:[/red] {escape(str(error))}")
    raise typer.Exit(1) from None
