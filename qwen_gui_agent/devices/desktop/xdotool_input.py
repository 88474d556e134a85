"""The desktop executor for an X display other than $DISPLAY: the planner's commands through xdotool.

pyautogui connects to $DISPLAY once per process, so a process that drives
several displays (a suite on ``desktop::91,desktop::92``) cannot use it for
the others. xdotool takes the display per call (``DISPLAY`` in its
environment) and sends the same XTEST events. Text is typed with
``xdotool type`` (Unicode included), so a paste becomes typing here; there is
no pointer-in-a-corner fail-safe (that is pyautogui's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from ..errors import DeviceDisconnected, DeviceError, MissingDependency, UnsupportedAction
from .capture import x_display_gone
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

TYPE_DELAY_MS = 12
# Pointer positions a drag passes through between press and release. pyautogui's dragTo glides over
# its duration; one jump (a single motion event) is not a drag to widgets that start dragging on one
# motion and follow on the next (jQuery UI's sortable lists, for one).
DRAG_STEPS = 10
_BUTTONS = {"left": "1", "middle": "2", "right": "3"}
_WHEEL = {(False, True): "4", (False, False): "5", (True, False): "6", (True, True): "7"}  # (horizontal, positive)

# pyautogui key names (what KeyChord holds) -> X keysym names, where they differ.
_KEYSYMS = {
    "ctrl": "Control_L",
    "alt": "Alt_L",
    "shift": "Shift_L",
    "win": "Super_L",
    "command": "Super_L",
    "enter": "Return",
    "esc": "Escape",
    "tab": "Tab",
    "space": "space",
    "backspace": "BackSpace",
    "delete": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pagedown": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "printscreen": "Print",
    "pause": "Pause",
    "apps": "Menu",
    "volumeup": "XF86AudioRaiseVolume",
    "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute",
    "+": "plus",
    "-": "minus",
    ",": "comma",
    ".": "period",
    "/": "slash",
    "\\": "backslash",
    ";": "semicolon",
    "'": "apostrophe",
    "`": "grave",
    "=": "equal",
    "[": "bracketleft",
    "]": "bracketright",
    " ": "space",
    "!": "exclam",
    "@": "at",
    "#": "numbersign",
    "$": "dollar",
    "%": "percent",
    "^": "asciicircum",
    "&": "ampersand",
    "*": "asterisk",
    "(": "parenleft",
    ")": "parenright",
    "_": "underscore",
    "{": "braceleft",
    "}": "braceright",
    "|": "bar",
    ":": "colon",
    '"': "quotedbl",
    "<": "less",
    ">": "greater",
    "?": "question",
    "~": "asciitilde",
}


def glide(start: tuple[int, int], end: tuple[int, int], duration: float, steps: int = DRAG_STEPS) -> list[str]:
    """xdotool commands that move the pointer from ``start`` to ``end`` in ``steps`` even moves over ``duration``."""
    pause = f"{duration / steps:.3f}"
    commands: list[str] = []
    for step in range(1, steps + 1):
        x = round(start[0] + (end[0] - start[0]) * step / steps)
        y = round(start[1] + (end[1] - start[1]) * step / steps)
        commands += ["sleep", pause, "mousemove", str(x), str(y)]
    return commands


def keysym(name: str) -> str:
    """The X keysym for one pyautogui key name; UnsupportedAction when there is none."""
    if name in _KEYSYMS:
        return _KEYSYMS[name]
    if len(name) == 1 and name.isascii() and name.isalnum():
        return name
    if name.startswith("f") and name[1:].isdigit() and 1 <= int(name[1:]) <= 24:
        return name.upper()
    raise UnsupportedAction(
        f"this desktop has no key {name!r}",
        expected="common keys: ctrl, alt, shift, cmd, enter, esc, tab, arrows, f1..f12, letters",
    )


class XdotoolInput:
    """Sends commands to one X display with xdotool; one instance per device."""

    def __init__(self, settings: DesktopSettings) -> None:
        if shutil.which("xdotool") is None:
            raise MissingDependency("xdotool is not installed", hint="apt-get install xdotool (needed for desktop::D)")
        self._display = str(settings.display)
        self._env = {**os.environ, "DISPLAY": self._display}
        self._spare_keys: SpareKeys | None = None  # opened on the first text (see keymap.py)

    def close(self) -> None:
        """Unbind the key codes typing bound on this display."""
        if self._spare_keys is not None:
            spare_keys, self._spare_keys = self._spare_keys, None
            spare_keys.close()

    def run(self, command: Command) -> None:
        match command:
            case MoveTo(x=x, y=y):
                self._xdotool("mousemove", str(x), str(y))
            case ClickAt(x=x, y=y, button=button, clicks=clicks):
                self._xdotool(
                    "mousemove", str(x), str(y), "click", "--repeat", str(clicks), "--delay", "50", _BUTTONS[button]
                )
            case DragTo(start=start, end=end, duration=duration, button=button):
                if start is not None:
                    self._xdotool("mousemove", str(start[0]), str(start[1]))
                else:
                    start = self.pointer()
                self._xdotool("mousedown", _BUTTONS[button])
                # One xdotool call glides the pointer over the drag's duration, then releases.
                self._xdotool(*glide(start, end, duration), "mouseup", _BUTTONS[button], timeout=10 + duration)
            case ScrollWheel(at=at, clicks=clicks, horizontal=horizontal):
                if at is not None:
                    self._xdotool("mousemove", str(at[0]), str(at[1]))
                if clicks:
                    self._xdotool("click", "--repeat", str(abs(clicks)), _WHEEL[(horizontal, clicks > 0)])
            case KeyChord(keys=keys):
                self._xdotool("key", "+".join(keysym(key) for key in keys))
            case WriteText(text=text) | PasteText(text=text) | XdotoolType(text=text):
                self._type(text)
            case Sleep(seconds=seconds):
                time.sleep(seconds)

    def _type(self, text: str) -> None:
        # Each chunk's characters are bound to key codes of their own first, so xdotool only presses keys and
        # a busy app cannot lose a character to xdotool's own rebinding (the fix of keymap.py).
        if self._spare_keys is None:
            self._spare_keys = SpareKeys.open(self._display)
        for chunk in self._spare_keys.chunks(text):
            self._xdotool(
                "type", "--delay", str(TYPE_DELAY_MS), "--", chunk, timeout=10 + len(chunk) * TYPE_DELAY_MS * 3 / 1000
            )

    def pointer(self) -> tuple[int, int]:
        fields = dict(
            line.split("=", 1) for line in self._xdotool("getmouselocation", "--shell").splitlines() if "=" in line
        )
        return int(fields["X"]), int(fields["Y"])

    def _xdotool(self, *argv: str, timeout: float = 10) -> str:
        try:
            result = subprocess.run(
                ["xdotool", *argv], capture_output=True, text=True, timeout=timeout, env=self._env, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise DeviceError(
                f"xdotool {argv[0]} did not finish on {self._display}", hint="check that the X server is responsive"
            ) from error
        if result.returncode != 0:
            problem = result.stderr.strip() or f"exit status {result.returncode}"
            # A server that dies in the middle of a command kills xdotool with SIGPIPE (exit -13) or an I/O
            # error, not "Can't open display": ask the socket before calling it a failed command.
            if "Can't open display" in problem or x_display_gone(self._display):
                raise DeviceDisconnected(
                    f"the X display {self._display} is gone ({problem})",
                    hint="restart the X server, then run the task again",
                )
            raise DeviceError(
                f"xdotool {argv[0]} failed on {self._display}: {problem}", hint="check the display's XTEST extension"
            )
        return result.stdout
