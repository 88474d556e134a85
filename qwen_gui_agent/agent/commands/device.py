"""``agent devices``, ``agent screenshot`` and ``agent do``, plus the device flags other commands share.

Every device flag has an environment variable (read here, at the edge, and
nowhere else): the flag wins, then the variable, then the default.

    --device/-d      AGENT_DEVICE                  desktop | desktop:N | android[:SERIAL | :HOST:PORT]
    --monitor        AGENT_DESKTOP_MONITOR         mss monitor number (0 = all monitors)
    --region         AGENT_DESKTOP_REGION          capture WxH+X+Y instead of a monitor
    --scale          AGENT_DESKTOP_SCALE           physical pixels per input unit (HiDPI override)
    --origin         AGENT_DESKTOP_ORIGIN          X,Y input coordinates of the capture's corner
    --failsafe       AGENT_DESKTOP_FAILSAFE        1/0: pointer in a screen corner stops the run
    --unicode-input  AGENT_DESKTOP_UNICODE_INPUT   clipboard | xdotool: how non-ASCII text is typed
    --adb-host       ANDROID_ADB_SERVER_ADDRESS    the adb server (adb's own variables)
    --adb-port       ANDROID_ADB_SERVER_PORT
                     ANDROID_SERIAL                the phone, when --device is plain "android"

Exit codes: 0 done, 1 device error (with a hint), 2 bad action text or flags.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ...devices.android.settings import AndroidSettings
    from ...devices.base import Device
    from ...devices.desktop.settings import DesktopSettings
    from ...tools.errors import ActionParseError

DEFAULT_DEVICE = "desktop"
ENV_DEVICE = "AGENT_DEVICE"
ENV_MONITOR = "AGENT_DESKTOP_MONITOR"
ENV_REGION = "AGENT_DESKTOP_REGION"
ENV_SCALE = "AGENT_DESKTOP_SCALE"
ENV_ORIGIN = "AGENT_DESKTOP_ORIGIN"
ENV_FAILSAFE = "AGENT_DESKTOP_FAILSAFE"
ENV_UNICODE_INPUT = "AGENT_DESKTOP_UNICODE_INPUT"
ENV_ADB_HOST = "ANDROID_ADB_SERVER_ADDRESS"
ENV_ADB_PORT = "ANDROID_ADB_SERVER_PORT"
ENV_SERIAL = "ANDROID_SERIAL"

_DEVICE_PANEL = "Device"

# Reusable option types: `agent run` and `agent replay` declare the same flags with these.
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        "-d",
        help=f"desktop, desktop:N, android, android:SERIAL or android:HOST:PORT (env {ENV_DEVICE}; "
        f"default {DEFAULT_DEVICE})",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
MonitorOpt = Annotated[
    int | None,
    typer.Option(
        "--monitor",
        min=0,
        help=f"Desktop monitor number as `agent devices` lists it; 0 = all (env {ENV_MONITOR}).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
RegionOpt = Annotated[
    str | None,
    typer.Option(
        "--region",
        help=f"Capture this WxH+X+Y rectangle instead of a monitor (env {ENV_REGION}).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
ScaleOpt = Annotated[
    float | None,
    typer.Option(
        "--scale",
        help=f"Screenshot pixels per input unit, when HiDPI detection is wrong (env {ENV_SCALE}).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
OriginOpt = Annotated[
    str | None,
    typer.Option(
        "--origin",
        help=f"X,Y input coordinates of the capture's top-left corner (env {ENV_ORIGIN}).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
FailsafeOpt = Annotated[
    bool | None,
    typer.Option(
        "--failsafe/--no-failsafe",
        help=f"Stop when the pointer reaches a screen corner (env {ENV_FAILSAFE}; default on).",
        rich_help_panel=_DEVICE_PANEL,
        show_default=False,
    ),
]
UnicodeInputOpt = Annotated[
    str | None,
    typer.Option(
        "--unicode-input",
        help=f"How non-ASCII text is typed on X11: clipboard or xdotool (env {ENV_UNICODE_INPUT}).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]
AdbHostOpt = Annotated[
    str | None,
    typer.Option(
        "--adb-host", help=f"adb server host (env {ENV_ADB_HOST}; default 127.0.0.1).", rich_help_panel=_DEVICE_PANEL
    ),
]
AdbPortOpt = Annotated[
    int | None,
    typer.Option(
        "--adb-port",
        min=1,
        max=65535,
        help=f"adb server port (env {ENV_ADB_PORT}; default 5037).",
        rich_help_panel=_DEVICE_PANEL,
    ),
]


@dataclass(frozen=True)
class DeviceFlags:
    """The device flags as given on the command line (None = not given): a flag group (flag_groups.py)."""

    device: DeviceOpt = None
    monitor: MonitorOpt = None
    region: RegionOpt = None
    scale: ScaleOpt = None
    origin: OriginOpt = None
    failsafe: FailsafeOpt = None
    unicode_input: UnicodeInputOpt = None
    adb_host: AdbHostOpt = None
    adb_port: AdbPortOpt = None


def resolve_spec(flags: DeviceFlags, environ: Mapping[str, str]) -> str:
    return flags.device or environ.get(ENV_DEVICE) or DEFAULT_DEVICE


def desktop_settings_for_cli(flags: DeviceFlags, environ: Mapping[str, str]) -> DesktopSettings:
    """Flags, then environment, then defaults; a bad value is a typer.BadParameter (exit 2)."""
    from pydantic import ValidationError

    from ...devices.desktop.settings import DesktopSettings, Region

    values: dict[str, Any] = {}
    monitor = _pick(flags.monitor, environ, ENV_MONITOR, int)
    region = _pick(flags.region, environ, ENV_REGION, str)
    scale = _pick(flags.scale, environ, ENV_SCALE, float)
    origin = _pick(flags.origin, environ, ENV_ORIGIN, str)
    failsafe = _pick(flags.failsafe, environ, ENV_FAILSAFE, _boolean)
    unicode_input = _pick(flags.unicode_input, environ, ENV_UNICODE_INPUT, str)
    try:
        if monitor is not None:
            values["monitor"] = monitor
        if region is not None:
            values["region"] = Region.parse(region)
        if scale is not None:
            values["scale"] = scale
        if origin is not None:
            values["origin"] = _point(origin)
        if failsafe is not None:
            values["failsafe"] = failsafe
        if unicode_input is not None:
            values["unicode_input"] = unicode_input
        return DesktopSettings(**values)
    except ValidationError as error:
        raise typer.BadParameter(settings_problem(error, _DESKTOP_SOURCES)) from None
    except ValueError as error:
        raise typer.BadParameter(_one_line(error)) from None


def android_settings_for_cli(flags: DeviceFlags, environ: Mapping[str, str]) -> AndroidSettings:
    from pydantic import ValidationError

    from ...devices.android.settings import AndroidSettings

    values: dict[str, Any] = {}
    host = _pick(flags.adb_host, environ, ENV_ADB_HOST, str)
    port = _pick(flags.adb_port, environ, ENV_ADB_PORT, int)
    serial = environ.get(ENV_SERIAL)
    if host:
        values["adb_host"] = host
    if port is not None:
        values["adb_port"] = port
    if serial:
        values["serial"] = serial
    try:
        return AndroidSettings(**values)
    except ValidationError as error:
        raise typer.BadParameter(settings_problem(error, _ANDROID_SOURCES)) from None


def open_device_for_cli(flags: DeviceFlags, environ: Mapping[str, str], spec: str | None = None) -> Device:
    """Open the device the flags and environment name (what `agent run`/`replay`/`do` share); ``spec``, when
    given, names the device instead of the flags (a suite's device from its pool)."""
    from ...devices import open_device, parse_device_spec

    spec = spec or resolve_spec(flags, environ)
    if parse_device_spec(spec).kind == "desktop":
        return open_device(spec, desktop=desktop_settings_for_cli(flags, environ))
    return open_device(spec, android=android_settings_for_cli(flags, environ))


def _pick(flag: Any, environ: Mapping[str, str], name: str, convert: Any) -> Any:
    if flag is not None:
        return flag
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return convert(raw)
    except ValueError:
        raise typer.BadParameter(f"{name}={raw!r} is not a valid value") from None


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _point(text: str) -> tuple[int, int]:
    x, sep, y = text.replace(" ", "").partition(",")
    if not sep:
        raise ValueError(f"origin {text!r} is not X,Y")
    return int(x), int(y)


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


# Settings field -> where a person sets it, for messages about a bad value.
_DESKTOP_SOURCES = {
    "monitor": f"--monitor (env {ENV_MONITOR})",
    "region": f"--region (env {ENV_REGION})",
    "scale": f"--scale (env {ENV_SCALE})",
    "origin": f"--origin (env {ENV_ORIGIN})",
    "failsafe": f"--failsafe (env {ENV_FAILSAFE})",
    "unicode_input": f"--unicode-input (env {ENV_UNICODE_INPUT})",
}
_ANDROID_SOURCES = {
    "adb_host": f"--adb-host (env {ENV_ADB_HOST})",
    "adb_port": f"--adb-port (env {ENV_ADB_PORT})",
    "serial": f"env {ENV_SERIAL}",
}


def settings_problem(error: ValidationError, sources: Mapping[str, str]) -> str:
    """A settings ValidationError in a person's words: which flag, what value, what would do."""
    problems = []
    for detail in error.errors(include_url=False):
        field = str(detail["loc"][0]) if detail["loc"] else ""
        where = sources.get(field, field.replace("_", "-") or "device settings")
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "literal_error":
            problems.append(f"{where}: {detail['input']!r} is not a choice; use {detail['ctx']['expected']}")
        elif field:
            problems.append(f"{where}: {message[:1].lower() + message[1:]} (got {detail['input']!r})")
        else:
            problems.append(message)
    return "; ".join(problems)


# ----------------------------------------------------------------------------- commands


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
