"""The desktop executor: runs the planner's commands with pyautogui.

pyautogui connects to the X display when it is first imported, so it is
imported here, on first use, and its many import-time failures become one
MissingDependency that says what to do. Its fail-safe (pointer in a screen
corner) becomes FailSafeTriggered.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import subprocess
import time
from types import ModuleType
from typing import Protocol

from ..errors import DeviceError, FailSafeTriggered, MissingDependency, UnsupportedAction
from .clipboard import Clipboard, find_clipboard_tool
from .keymap import SpareKeys
from .plan import (
    ClickAt,
    Command,
    DragTo,
    KeyChord,
    MoveTo,
    PasteText,
    ScrollWheel,
    Sleep,
    WriteText,
    XdotoolType,
)
from .settings import DesktopSettings
from .xlib_auth import quiet_missing_cookies

log = logging.getLogger(__name__)

XDOTOOL_KEY_DELAY_MS = 12
FAILSAFE_HINT = (
    "the mouse pointer reached a screen corner, pyautogui's emergency stop; the run was stopped on purpose. "
    "Move the pointer away to go on, or turn the fail-safe off (--no-failsafe / AGENT_DESKTOP_FAILSAFE=0)"
)


class PyAutoGui(Protocol):
    """The part of the pyautogui module the executor uses: pyautogui ships no type information, so this
    says what we rely on (module globals we set, the functions we call, with the arguments we pass)."""

    FAILSAFE: bool
    PAUSE: float
    FailSafeException: type[Exception]
    platformModule: ModuleType  # the platform backend (keyboardMapping on X11, Windows, macOS)

    def position(self) -> tuple[int, int]: ...
    def moveTo(self, x: int, y: int) -> None: ...
    def click(self, x: int, y: int, *, clicks: int, interval: float, button: str) -> None: ...
    def dragTo(self, x: int, y: int, *, duration: float, button: str) -> None: ...
    def scroll(self, clicks: int, *, x: int | None, y: int | None) -> None: ...
    def hscroll(self, clicks: int, *, x: int | None, y: int | None) -> None: ...
    def hotkey(self, *keys: str) -> None: ...
    def write(self, text: str, *, interval: float) -> None: ...


def load_pyautogui() -> PyAutoGui:
    """Import pyautogui (it connects to the display now) or say why it cannot."""
    chatter = io.StringIO()
    quiet_missing_cookies()  # no Xauthority file: connect without a cookie, as libX11 does
    try:
        # python-xlib prints warnings (e.g. an empty Xauthority) to stdout while connecting;
        # stdout belongs to the CLI's output (--json), so they go to the log instead.
        with contextlib.redirect_stdout(chatter):
            import pyautogui  # lazy: connects to $DISPLAY at import time
    except Exception as error:  # pyautogui's import fails with KeyError, Xlib errors, ImportError ...
        if type(error).__name__ == "XauthError":  # a python-xlib release that refuses an unusable file
            raise MissingDependency(
                f"python-xlib found no Xauthority file ({error})",
                hint="create one (touch ~/.Xauthority) or point XAUTHORITY at the display's cookie file",
            ) from error
        raise MissingDependency(
            f"pyautogui cannot reach the display ({type(error).__name__}: {error})",
            hint="run inside a desktop session or under Xvfb with DISPLAY set; "
            "on Linux pyautogui also needs python-xlib and the XTEST extension",
        ) from error
    finally:
        if chatter.getvalue().strip():
            log.info("while connecting to the display: %s", chatter.getvalue().strip())
    return pyautogui


class PyAutoGuiInput:
    """Sends commands to the desktop; one instance per device."""

    def __init__(self, settings: DesktopSettings) -> None:
        self._settings = settings
        self._gui = load_pyautogui()
        self._clipboard: Clipboard | None = None  # found on the first paste: ASCII-only runs need no tool
        self._spare_keys: SpareKeys | None = None  # opened on the first xdotool text

    def close(self) -> None:
        """Unbind the key codes xdotool typing bound (see keymap.py)."""
        if self._spare_keys is not None:
            spare_keys, self._spare_keys = self._spare_keys, None
            spare_keys.close()

    def run(self, command: Command) -> None:
        # pyautogui keeps these as module globals: set them per command so two devices
        # with different settings in one process each get their own.
        self._gui.FAILSAFE = self._settings.failsafe
        self._gui.PAUSE = self._settings.pause
        try:
            self._dispatch(command)
        except self._gui.FailSafeException as error:
            raise FailSafeTriggered("pyautogui fail-safe triggered", hint=FAILSAFE_HINT) from error

    def pointer(self) -> tuple[int, int]:
        x, y = self._gui.position()
        return int(x), int(y)

    def _dispatch(self, command: Command) -> None:
        gui = self._gui
        match command:
            case MoveTo(x=x, y=y):
                gui.moveTo(x, y)
            case ClickAt(x=x, y=y, button=button, clicks=clicks):
                gui.click(x, y, clicks=clicks, interval=0.05 if clicks > 1 else 0.0, button=button)
            case DragTo(start=start, end=end, duration=duration, button=button):
                if start is not None:
                    gui.moveTo(*start)
                gui.dragTo(*end, duration=duration, button=button)
            case ScrollWheel(at=at, clicks=clicks, horizontal=horizontal):
                at_x, at_y = at if at is not None else (None, None)
                (gui.hscroll if horizontal else gui.scroll)(clicks, x=at_x, y=at_y)
            case KeyChord(keys=keys):
                self._check_keys(keys)
                gui.hotkey(*keys)
            case WriteText(text=text, interval=interval):
                gui.write(text, interval=interval)
            case PasteText(text=text, chord=chord):
                self._paste(text, chord)
            case XdotoolType(text=text):
                self._xdotool(text)
            case Sleep(seconds=seconds):
                time.sleep(seconds)

    def _check_keys(self, keys: tuple[str, ...]) -> None:
        # pyautogui silently skips keys it has no code for; a skipped key must not pass for a pressed one.
        mapping = getattr(self._gui.platformModule, "keyboardMapping", None)
        if mapping is None:
            return
        missing = [key for key in keys if mapping.get(key) is None]
        if missing:
            raise UnsupportedAction(
                f"this desktop has no key {', '.join(map(repr, missing))}",
                expected="common keys: ctrl, alt, shift, cmd, enter, esc, tab, arrows, f1..f12, letters, digits",
            )

    def _xdotool(self, text: str) -> None:
        _check_xdotool()
        if self._spare_keys is None:
            self._spare_keys = SpareKeys.open()
        for chunk in self._spare_keys.chunks(text):  # each chunk's characters bound to keys of their own
            _xdotool_type(chunk)

    def _paste(self, text: str, chord: tuple[str, ...]) -> None:
        if self._clipboard is None:
            self._clipboard = Clipboard(find_clipboard_tool(self._settings.platform))
        clipboard = self._clipboard
        previous = clipboard.read()
        clipboard.write(text)
        try:
            self._gui.hotkey(*chord)
            # The app asks for the clipboard's content after it sees the chord; give it time before restoring.
            time.sleep(self._settings.clipboard_settle)
        finally:
            clipboard.restore(previous)


def _check_xdotool() -> None:
    if shutil.which("xdotool") is None:
        raise MissingDependency(
            "xdotool is not installed", hint="apt-get install xdotool, or use --unicode-input clipboard"
        )


def _xdotool_type(text: str) -> None:
    argv = ["xdotool", "type", "--delay", str(XDOTOOL_KEY_DELAY_MS), "--", text]
    timeout = 10 + len(text) * XDOTOOL_KEY_DELAY_MS * 3 / 1000
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as error:
        raise DeviceError("xdotool type did not finish", hint="check that the X server is responsive") from error
    if result.returncode != 0:
        raise DeviceError(f"xdotool type failed: {result.stderr.strip()}", hint="check DISPLAY and the XTEST extension")
