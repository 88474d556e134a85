"""The Android driver: adb (through adbutils) for screenshots and input.

``open_android`` picks a device (by serial, ``HOST:PORT`` over TCP, or the only
one), ``AndroidDevice`` captures with ``exec-out screencap`` (raw framebuffer,
PNG as fallback) and sends ``input``/``am``/``monkey`` commands planned by the
pure ``plan_android``. adbutils is imported only when a device is opened.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...tools.actions import Action, OpenApp, Type, Wait
from ...tools.errors import ActionParseError
from ...tools.frames import ScreenGeometry
from ..base import Device, Execution, Screenshot
from ..errors import (
    CaptureError,
    DeviceError,
    DeviceNotFound,
    MissingDependency,
    UnsupportedAction,
)
from .adb import (
    DeviceLink,
    adb_client,
    adb_server_as_found,
    adb_server_listening,
    shown_command,
    stop_started_server,
    transient_on_adb_trouble,
    with_retries,
)
from .apps import LAUNCHABLE_QUERY, PACKAGES_QUERY, parse_launchable
from .plan import plan_android
from .screen import (
    ORIENTATIONS,
    decode_png,
    decode_raw,
    oriented_size,
    parse_rotation,
    parse_wm_size,
    require_content,
)
from .settings import ADB_KEYBOARD_APK_URL, AndroidSettings
from .text import parse_ime_list, typable_by_input

if TYPE_CHECKING:
    from adbutils import AdbClient
    from PIL import Image

__all__ = ["AndroidDevice", "AndroidDeviceInfo", "AndroidSettings", "list_android", "open_android", "plan_android"]

logger = logging.getLogger(__name__)

TCP_SERIAL = re.compile(r"^(\[[0-9A-Fa-f:]+\]|[^\s:\[\]]+):\d{1,5}$")

_STATE_HINTS = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging' prompt",
    "offline": "replug the cable or restart adb (`adb kill-server`)",
    "no permissions": "fix the udev rules for the phone (see `adb devices` output)",
}


@dataclass(frozen=True)
class AndroidDeviceInfo:
    serial: str
    state: str  # adb's word: device, offline, unauthorized ...
    model: str = ""
    width: int | None = None  # physical px as currently shown; None when the device cannot be asked
    height: int | None = None
    orientation: str | None = None  # portrait, landscape, reverse portrait, reverse landscape
    rotation: int | None = None  # quarter turns from the natural orientation


@dataclass(frozen=True)
class _Listed:
    serial: str
    state: str
    tags: dict[str, str]


def list_android(settings: AndroidSettings) -> list[AndroidDeviceInfo]:
    """Every device the adb server knows, with model and resolution where it is ready."""
    client = adb_client(settings)
    with adb_server_as_found(client, settings):
        return _describe_devices(client, settings)


def _describe_devices(client: AdbClient, settings: AndroidSettings) -> list[AndroidDeviceInfo]:
    infos = []
    for entry in _list_devices(client, settings):
        if entry.state != "device":
            infos.append(AndroidDeviceInfo(entry.serial, entry.state, model=entry.tags.get("model", "")))
            continue
        link = DeviceLink(client, entry.serial, settings)
        width, height, rotation = _screen_facts(link)
        model = entry.tags.get("model") or link.text("getprop ro.product.model")
        infos.append(
            AndroidDeviceInfo(
                entry.serial,
                entry.state,
                model=model,
                width=width,
                height=height,
                orientation=ORIENTATIONS[rotation],
                rotation=rotation,
            )
        )
    return infos


def open_android(serial: str | None, settings: AndroidSettings) -> AndroidDevice:
    """The device ``serial`` (``HOST:PORT`` is connected over TCP first), or the only device when None."""
    serial = serial or settings.serial
    client = adb_client(settings)
    # adbutils starts an adb server when none answers (a daemon that outlives us): ours to stop at the end.
    started_here = not adb_server_listening(settings)
    stop_server = functools.partial(stop_started_server, client, settings, "for this run") if started_here else None
    try:
        if serial and TCP_SERIAL.match(serial):
            _connect_tcp(client, serial, settings)
        listed = _list_devices(client, settings)
        serial = _choose(serial, listed)
    except BaseException:
        if stop_server is not None:
            stop_server()
        raise
    return AndroidDevice(DeviceLink(client, serial, settings), settings, stop_server=stop_server)


def _list_devices(client: AdbClient, settings: AndroidSettings) -> list[_Listed]:
    def attempt() -> list[_Listed]:
        with transient_on_adb_trouble("cannot list devices"):
            return [_Listed(info.serial, info.state, dict(info.tags)) for info in client.list(extended=True)]

    return with_retries(settings, "adb devices", attempt)


def _connect_tcp(client: AdbClient, address: str, settings: AndroidSettings) -> None:
    def attempt() -> str:
        with transient_on_adb_trouble(f"adb connect {address}"):
            return client.connect(address, timeout=settings.connect_timeout_s)

    reply = with_retries(settings, f"adb connect {address}", attempt).strip()
    if not reply.startswith(("connected to", "already connected to")):
        raise DeviceNotFound(
            f"adb connect {address} failed: {reply}",
            hint="enable wireless debugging on the phone (or `adb tcpip 5555` over USB once) and check that "
            "the host and port are reachable from here",
        )


def _choose(serial: str | None, listed: Sequence[_Listed]) -> str:
    ready = [entry.serial for entry in listed if entry.state == "device"]
    seen = ", ".join(f"{entry.serial} ({entry.state})" for entry in listed) or "nothing"
    if serial is None:
        if len(ready) == 1:
            return ready[0]
        if not ready:
            raise DeviceNotFound(
                f"no Android device is ready; adb lists {seen}",
                hint="plug in a phone with USB debugging on, start an emulator, or `adb connect HOST:PORT`",
            )
        raise DeviceNotFound(
            f"{len(ready)} Android devices are ready ({', '.join(ready)}); say which one",
            hint="pass a serial, e.g. --device android:" + ready[0],
        )
    entry = next((entry for entry in listed if entry.serial == serial), None)
    if entry is None:
        raise DeviceNotFound(
            f"no Android device {serial!r}; adb lists {seen}", hint="check the serial with `adb devices`"
        )
    if entry.state != "device":
        raise DeviceNotFound(f"Android device {serial} is {entry.state}", hint=_STATE_HINTS.get(entry.state, ""))
    return serial


def _screen_facts(link: DeviceLink) -> tuple[int, int, int]:
    """(width, height, rotation) of the display as currently shown."""
    natural = parse_wm_size(link.text("wm size"))
    rotation = parse_rotation(link.text("dumpsys input"))
    width, height = oriented_size(natural, rotation)
    return width, height, rotation


class AndroidDevice(Device):
    """One phone or emulator, driven over adb."""

    kind = "mobile"

    def __init__(
        self,
        link: DeviceLink,
        settings: AndroidSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        stop_server: Callable[[], None] | None = None,
    ) -> None:
        self.link = link
        self.settings = settings
        self.name = link.serial
        self._sleep = sleep
        self._stop_server = stop_server  # the adb server opening this device started: stopped at close
        self._screen: tuple[int, int] | None = None  # size of the last capture: the current orientation
        self._packages: tuple[str, ...] | None = None
        self._raw_capture = settings.screencap == "raw"

    def close(self) -> None:
        if self._stop_server is not None:
            stop, self._stop_server = self._stop_server, None
            stop()

    # --- perceive -------------------------------------------------------------------------------------------

    def screenshot(self) -> Screenshot:
        started = time.perf_counter()
        image = require_content(self._capture())
        capture_ms = (time.perf_counter() - started) * 1000
        self._screen = image.size
        return Screenshot(
            image=image,
            geometry=ScreenGeometry(width=image.width, height=image.height),
            captured_at=time.time(),
            capture_ms=capture_ms,
        )

    def _capture(self) -> Image.Image:
        if self._raw_capture:
            try:
                return decode_raw(self.link.run("screencap", service="exec"))
            except CaptureError as error:
                # Some vendors' screencap writes formats we cannot read raw: PNG from now on.
                logger.warning("raw screencap unusable on %s (%s); using PNG", self.name, error)
                self._raw_capture = False
        return decode_png(self.link.run("screencap -p", service="exec"))

    def screen_size(self) -> tuple[int, int]:
        """(width, height) px as currently shown: from the last capture, else asked from the device."""
        if self._screen is None:
            width, height, _ = _screen_facts(self.link)
            self._screen = (width, height)
        return self._screen

    # --- act ------------------------------------------------------------------------------------------------

    def plan(self, action: Action) -> tuple[str, ...]:
        if not isinstance(action, OpenApp):
            return plan_android(action, self.settings, self.screen_size())
        try:
            return plan_android(action, self.settings, self.screen_size(), self._launchable())
        except ActionParseError:
            self._packages = None  # the app may have been installed since the list was read: look once more
            return plan_android(action, self.settings, self.screen_size(), self._launchable())

    def execute(self, action: Action) -> Execution:
        commands = self.plan(action)  # a model mistake raises here, before anything is sent
        match action:
            case Wait(seconds=seconds):
                self._sleep(seconds)
                sent: tuple[str, ...] = ()
            case Type(text=text) if text and not typable_by_input(text):
                sent = self._type_with_ime(commands)
            case _:
                sent = tuple(self._send(command) for command in commands)
        return Execution(action=action, commands=sent)

    def _send(self, command: str) -> str:
        """Run one planned command (never retried once accepted) and check what it printed."""
        output = self.link.text(command, idempotent=False)
        _check_output(command, output)
        return command

    def _type_with_ime(self, planned: tuple[str, ...]) -> tuple[str, ...]:
        """Switch to ADBKeyboard, send the planned broadcast (and enter), and put the user's IME back."""
        ime = self.settings.adb_keyboard_ime
        if ime not in parse_ime_list(self.link.text("ime list -a -s")):
            raise MissingDependency(
                f"the ADBKeyboard IME ({ime}) is not installed on {self.name}; it is needed to type non-ASCII text",
                hint=f"download ADBKeyboard.apk from {ADB_KEYBOARD_APK_URL} and run `adb -s {self.name} install "
                "ADBKeyboard.apk`",
            )
        previous = self.link.text("settings get secure default_input_method").strip()
        was_enabled = ime in parse_ime_list(self.link.text("ime list -s"))
        if previous == ime:
            return tuple(self._send(command) for command in planned)
        switch = (() if was_enabled else (f"ime enable {ime}",)) + (f"ime set {ime}",)
        restore = ((f"ime set {previous}",) if previous and previous != "null" else ()) + (
            () if was_enabled else (f"ime disable {ime}",)
        )
        sent: list[str] = []
        try:
            sent.extend(self._send(command) for command in switch)
            self._sleep(self.settings.ime_settle_s)  # the IME binds to the focused field asynchronously
            sent.extend(self._send(command) for command in planned)
        except BaseException:
            self._restore_ime(restore, sent, quiet=True)
            raise
        self._restore_ime(restore, sent, quiet=False)
        return tuple(sent)

    def _restore_ime(self, restore: tuple[str, ...], sent: list[str], *, quiet: bool) -> None:
        for command in restore:
            try:
                sent.append(self._send(command))
            except DeviceError as error:
                if not quiet:
                    raise
                # An error is already on its way out; this one must not hide it.
                logger.error("could not restore the keyboard on %s with `%s`: %s", self.name, command, error)

    def _launchable(self) -> tuple[str, ...]:
        if self._packages is None:
            packages = parse_launchable(self.link.text(LAUNCHABLE_QUERY))
            self._packages = packages or parse_launchable(self.link.text(PACKAGES_QUERY))
        return self._packages

    # --- record ---------------------------------------------------------------------------------------------

    def describe(self) -> dict[str, object]:
        width, height, rotation = _screen_facts(self.link)
        return {
            "kind": self.kind,
            "name": self.name,
            "serial": self.name,
            "model": self.link.text("getprop ro.product.model"),
            "android": self.link.text("getprop ro.build.version.release"),
            "sdk": self.link.text("getprop ro.build.version.sdk"),
            "width": width,
            "height": height,
            "orientation": ORIENTATIONS[rotation],
            # What shapes the planned commands, so a replay plans with the same values.
            "settings": self.settings.model_dump(mode="json"),
        }


def _check_output(command: str, output: str) -> None:
    """Raise for a command whose output says it failed (these commands print nothing or a fixed line on success)."""
    program = command.split(" ", 1)[0]
    if program == "input" and output:
        if command.startswith("input keycombination") and "keycombination" in output.lower():
            raise UnsupportedAction(
                "this Android version cannot press keys together (needs Android 13+)",
                expected="one key per hotkey, or press_back()/press_home()/press_enter()",
            )
        raise DeviceError(
            f"`{shown_command(command)}` failed: {output[:300]}", hint="check the device screen and `adb logcat`"
        )
    if program == "monkey" and "Events injected" not in output:
        package = command.split()[2]
        raise ActionParseError(
            f"the app {package} could not be launched ({output.strip().splitlines()[-1] if output.strip() else 'no output'})",
            expected="open_app with an installed app's package name",
        )
    if program == "am" and "Broadcast completed" not in output:
        raise DeviceError(
            f"`{shown_command(command)}` failed: {output[:300]}", hint="check that ADBKeyboard is installed"
        )
    if program == "ime" and re.search(r"\b(Unknown|Error|not found|cannot)\b", output, re.IGNORECASE):
        raise DeviceError(f"`{command}` failed: {output[:300]}", hint="list keyboards with `adb shell ime list -a -s`")
