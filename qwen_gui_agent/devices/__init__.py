"""Devices: choose one by a short spec, list what is reachable.

Specs: ``desktop`` (primary monitor), ``desktop:N`` (mss monitor N; 0 = all),
``desktop::D`` / ``desktop:N:D`` (X display :D, not this process's $DISPLAY: driven with
xdotool, so one process can drive several displays), ``android`` (the only attached device), ``android:SERIAL``,
``android:HOST:PORT`` (adb over TCP). Drivers are imported when asked for, so
``import devices`` works on a headless server without X or adb.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .base import Device
from .errors import DeviceError, DeviceNotFound

if TYPE_CHECKING:
    from .android.device import AndroidDeviceInfo
    from .android.settings import AndroidSettings
    from .desktop.settings import DesktopSettings

SPEC_FORMS = (
    "desktop, desktop:N (monitor number), desktop::D or desktop:N:D (X display :D), android, "
    "android:SERIAL or android:HOST:PORT"
)


@dataclass(frozen=True)
class DeviceSpec:
    kind: Literal["desktop", "android"]
    monitor: int | None = None  # desktop only
    display: str | None = None  # desktop only: an X display (":91") other than $DISPLAY
    serial: str | None = None  # android only; HOST:PORT for adb over TCP


@dataclass(frozen=True)
class DeviceEntry:
    """One line of ``agent devices``: a reachable device, or why a kind is not reachable."""

    spec: str
    kind: Literal["desktop", "android"]
    available: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    hint: str = ""


def parse_device_spec(spec: str) -> DeviceSpec:
    kind, _, rest = spec.strip().partition(":")
    kind = kind.lower()
    if kind == "desktop":
        monitor, has_display, display = rest.partition(":")
        if has_display and not display.isdigit():
            raise DeviceNotFound(f"bad desktop spec {spec!r}: the X display must be a number", hint=f"use {SPEC_FORMS}")
        if monitor and not monitor.isdigit():
            raise DeviceNotFound(f"bad desktop spec {spec!r}: the monitor must be a number", hint=f"use {SPEC_FORMS}")
        return DeviceSpec(
            "desktop", monitor=int(monitor) if monitor else None, display=f":{display}" if has_display else None
        )
    if kind == "android":
        return DeviceSpec("android", serial=rest or None)
    raise DeviceNotFound(f"unknown device {spec!r}", hint=f"use {SPEC_FORMS}")


def open_device(spec: str, *, desktop: DesktopSettings | None = None, android: AndroidSettings | None = None) -> Device:
    """Open the device ``spec`` names; the spec's monitor/serial wins over the settings'."""
    parsed = parse_device_spec(spec)
    if parsed.kind == "desktop":
        from .desktop.device import open_desktop  # lazy: the desktop driver is display-bound
        from .desktop.settings import DesktopSettings

        settings = desktop or DesktopSettings()
        if parsed.monitor is not None:
            settings = settings.model_copy(update={"monitor": parsed.monitor})
        if parsed.display is not None:
            settings = settings.model_copy(update={"display": parsed.display})
        return open_desktop(settings)
    from .android.device import open_android  # lazy: needs adbutils
    from .android.settings import AndroidSettings

    settings_a = android or AndroidSettings()
    return open_android(parsed.serial, settings_a)  # no serial in the spec: open_android falls back to the settings'


def list_devices(
    *, desktop: DesktopSettings | None = None, android: AndroidSettings | None = None
) -> list[DeviceEntry]:
    """Everything reachable; a kind that cannot be reached is one entry saying why."""
    return [*_desktop_entries(desktop), *_android_entries(android)]


def _desktop_entries(settings: DesktopSettings | None) -> list[DeviceEntry]:
    from .desktop.device import list_monitors

    try:
        reports = list_monitors(settings)
    except DeviceError as error:
        return [DeviceEntry("desktop", "desktop", False, _reason(error), hint=error.hint)]
    entries = []
    for report in reports:
        monitor, geometry = report.monitor, report.geometry
        label = "all monitors" if monitor.number == 0 else ("primary" if monitor.primary else monitor.name)
        entries.append(
            DeviceEntry(
                spec=f"desktop:{monitor.number}",
                kind="desktop",
                available=True,
                summary=f"{geometry.width}x{geometry.height} at ({geometry.origin_x},{geometry.origin_y}) "
                f"scale {geometry.scale:g}" + (f" [{label}]" if label else ""),
                details={
                    "monitor": monitor.number,
                    "width": geometry.width,
                    "height": geometry.height,
                    "origin": [geometry.origin_x, geometry.origin_y],
                    "scale": geometry.scale,
                    "primary": monitor.primary,
                    "name": monitor.name,
                },
            )
        )
    return entries


def _android_entries(settings: AndroidSettings | None) -> list[DeviceEntry]:
    try:
        from .android.device import list_android  # lazy: needs adbutils
        from .android.settings import AndroidSettings
    except ImportError as error:
        return [
            DeviceEntry(
                "android", "android", False, f"the Android driver cannot load ({error})", hint="pip install adbutils"
            )
        ]
    settings = settings or AndroidSettings()
    try:
        infos = list_android(settings)
    except DeviceError as error:
        return [DeviceEntry("android", "android", False, _reason(error), hint=error.hint)]
    if not infos:
        return [
            DeviceEntry(
                "android",
                "android",
                False,
                "the adb server lists no devices",
                hint="plug in a phone with USB debugging on, start an emulator, or adb connect HOST:PORT",
            )
        ]
    return [_android_entry(info) for info in infos]


def _android_entry(info: AndroidDeviceInfo) -> DeviceEntry:
    ready = info.state == "device"
    size = f"{info.width}x{info.height}" if info.width and info.height else ""
    parts = (info.model, size, info.orientation, "" if ready else f"({info.state})")
    return DeviceEntry(
        spec=f"android:{info.serial}",
        kind="android",
        available=ready,
        summary=" ".join(str(part) for part in parts if part),
        details=dataclasses.asdict(info),
        hint="" if ready else "accept the USB debugging prompt on the phone, or reconnect it",
    )


def _reason(error: DeviceError) -> str:
    """The error's message without its hint (shown on its own line)."""
    text = str(error)
    return text.removesuffix(f". {error.hint}") if error.hint else text
