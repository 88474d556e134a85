"""Canonical key names (qwen_gui_agent.tools.keys) -> Android key event names.

Names rather than numbers go to ``input keyevent``: every Android version
accepts ``KEYCODE_*`` names, and recorded runs stay readable. A chord (more
than one key) becomes ``input keycombination`` (Android 13+).
"""

from __future__ import annotations

import string

from ..errors import UnsupportedAction
from .text import keyevent_command

_NAMED = {
    "enter": "ENTER",
    "esc": "ESCAPE",
    "tab": "TAB",
    "space": "SPACE",
    "backspace": "DEL",
    "delete": "FORWARD_DEL",
    "insert": "INSERT",
    # On a phone "home" means the home screen, which is what a model asking for it wants.
    "home": "HOME",
    "end": "MOVE_END",
    "pageup": "PAGE_UP",
    "pagedown": "PAGE_DOWN",
    "up": "DPAD_UP",
    "down": "DPAD_DOWN",
    "left": "DPAD_LEFT",
    "right": "DPAD_RIGHT",
    "capslock": "CAPS_LOCK",
    "numlock": "NUM_LOCK",
    "scrolllock": "SCROLL_LOCK",
    "printscreen": "SYSRQ",
    "pause": "BREAK",
    "menu": "MENU",
    "volumeup": "VOLUME_UP",
    "volumedown": "VOLUME_DOWN",
    "volumemute": "VOLUME_MUTE",
    "ctrl": "CTRL_LEFT",
    "alt": "ALT_LEFT",
    "shift": "SHIFT_LEFT",
    "cmd": "META_LEFT",
    **{f"f{n}": f"F{n}" for n in range(1, 13)},
    "`": "GRAVE",
    "-": "MINUS",
    "=": "EQUALS",
    "[": "LEFT_BRACKET",
    "]": "RIGHT_BRACKET",
    "\\": "BACKSLASH",
    ";": "SEMICOLON",
    "'": "APOSTROPHE",
    "/": "SLASH",
    "@": "AT",
    "+": "PLUS",
    "*": "STAR",
    "#": "POUND",
    ",": "COMMA",
    ".": "PERIOD",
    **{letter: letter.upper() for letter in string.ascii_lowercase},
    **{digit: digit for digit in string.digits},
}

KEYCODES: dict[str, str] = {key: f"KEYCODE_{name}" for key, name in _NAMED.items()}


def keycode(key: str) -> str:
    """The ``KEYCODE_*`` name for one canonical key, or UnsupportedAction."""
    try:
        return KEYCODES[key]
    except KeyError:
        raise UnsupportedAction(
            f"the key {key!r} has no Android key event",
            expected="letters, digits, enter, esc, tab, space, backspace, delete, arrows, home, menu, "
            "volumeup/volumedown, f1..f12, or press_back()/press_home()",
        ) from None


def hotkey_command(keys: tuple[str, ...]) -> str:
    """One shell command pressing ``keys`` together (one key: a plain key event)."""
    codes = [keycode(key) for key in keys]
    if len(codes) == 1:
        return keyevent_command(codes[0])
    return "input keycombination " + " ".join(codes)
