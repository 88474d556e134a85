"""The device flags every command that opens a device shares, and how they become device settings.

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

``open_device_for_cli`` opens the device they name; a bad value is a ``typer.BadParameter`` (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ...devices.android.settings import AndroidSettings
    from ...devices.base import Device
    from ...devices.desktop.settings import DesktopSettings

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
