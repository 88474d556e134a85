"""Key names for hotkeys: one canonical spelling per key, many accepted aliases.

Models write the same key many ways (``Control``, ``ctrl``, ``CTRL``; ``Return``,
``enter``; ``ArrowLeft``, ``left``). Every driver maps from the canonical names
below, so each alias has to be resolved exactly once, here.
"""

from __future__ import annotations

import re

from .errors import ActionParseError

MODIFIERS = ("ctrl", "alt", "shift", "cmd")

NAMED_KEYS = frozenset(
    {
        *MODIFIERS,
        "enter",
        "esc",
        "tab",
        "space",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        "capslock",
        "numlock",
        "scrolllock",
        "printscreen",
        "pause",
        "menu",
        "volumeup",
        "volumedown",
        "volumemute",
        *(f"f{n}" for n in range(1, 25)),
    }
)

_ALIASES = {
    "control": "ctrl",
    "ctl": "ctrl",
    "lctrl": "ctrl",
    "rctrl": "ctrl",
    "ctrlleft": "ctrl",
    "ctrlright": "ctrl",
    "controlleft": "ctrl",
    "controlright": "ctrl",
    "command": "cmd",
    "win": "cmd",
    "windows": "cmd",
    "super": "cmd",
    "meta": "cmd",
    "winleft": "cmd",
    "winright": "cmd",
    "metaleft": "cmd",
    "metaright": "cmd",
    "cmdleft": "cmd",
    "cmdright": "cmd",
    "os": "cmd",
    "option": "alt",
    "opt": "alt",
    "altleft": "alt",
    "altright": "alt",
    "lalt": "alt",
    "ralt": "alt",
    "shiftleft": "shift",
    "shiftright": "shift",
    "lshift": "shift",
    "rshift": "shift",
    "return": "enter",
    "kpenter": "enter",
    "numpadenter": "enter",
    "escape": "esc",
    "arrowleft": "left",
    "arrowright": "right",
    "arrowup": "up",
    "arrowdown": "down",
    "leftarrow": "left",
    "rightarrow": "right",
    "uparrow": "up",
    "downarrow": "down",
    "back": "backspace",
    "bksp": "backspace",
    "bs": "backspace",
    "del": "delete",
    "forwarddelete": "delete",
    "ins": "insert",
    "pgup": "pageup",
    "pgdn": "pagedown",
    "pgdown": "pagedown",
    "prior": "pageup",
    "next": "pagedown",
    "spacebar": "space",
    "caps": "capslock",
    "prtsc": "printscreen",
    "prtscr": "printscreen",
    "print": "printscreen",
    "apps": "menu",
    "contextmenu": "menu",
    "plus": "+",
    "minus": "-",
    "comma": ",",
    "period": ".",
    "slash": "/",
    "backslash": "\\",
    "semicolon": ";",
    "quote": "'",
    "apostrophe": "'",
    "backquote": "`",
    "grave": "`",
    "equal": "=",
    "equals": "=",
    "bracketleft": "[",
    "bracketright": "]",
}

# Characters that split a chord written as one string: "ctrl+c", "ctrl-c", "ctrl c".
_CHORD_SEPARATORS = re.compile(r"\s+|(?<=\w)[+-](?=\S)")


def normalize_key(name: str) -> str:
    """Return the canonical name of one key, or raise ActionParseError."""
    raw = name.strip()
    if len(raw) == 1 and raw.isprintable():
        lowered = raw.lower()
        return lowered if len(lowered) == 1 else raw  # "İ".lower() is two characters: keep it one key
    folded = raw.lower().replace("_", "").replace(" ", "")
    if folded in NAMED_KEYS:
        return folded
    if folded in _ALIASES:
        return _ALIASES[folded]
    if len(folded) == 4 and folded.startswith("key"):  # "KeyA" from browser key codes
        return folded[3]
    if len(folded) == 6 and folded.startswith("digit"):
        return folded[5]
    raise ActionParseError(
        f"unknown key {name!r}",
        expected="key names such as ctrl, alt, shift, cmd, enter, esc, tab, space, "
        "backspace, delete, up, down, left, right, home, end, pageup, pagedown, f1..f24, "
        "or a single character, e.g. hotkey(key='ctrl c')",
    )


def split_chord(chord: str) -> list[str]:
    """Split "ctrl+shift+t" / "ctrl shift t" / "ctrl-c" into its key names."""
    chord = chord.strip()
    if len(chord) == 1:
        return [chord]
    return [part for part in _CHORD_SEPARATORS.split(chord) if part]


def _is_key(word: str) -> bool:
    folded = word.lower()
    return (len(word) == 1 and word.isprintable()) or folded in NAMED_KEYS or folded in _ALIASES


def join_spelled_out_keys(words: list[str]) -> list[str]:
    """Join a key written as two words: ``page down`` -> ``pagedown``, ``caps lock``, ``left arrow``.

    Two alphabetic neighbours are joined when together they name a key and they are not already two
    keys (``back space`` is one key, as ``backspace`` is named; ``ctrl c`` stays two).
    """
    joined: list[str] = []
    index = 0
    while index < len(words):
        first = words[index]
        second = words[index + 1] if index + 1 < len(words) else ""
        together = (first + second).lower()
        if (
            first.isalpha()
            and second.isalpha()
            and _is_key(together)
            and (not (_is_key(first) and _is_key(second)) or together in NAMED_KEYS)
        ):
            joined.append(first + second)
            index += 2
        else:
            joined.append(first)
            index += 1
    return joined


def normalize_keys(keys: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Normalize a chord given as one string or a list of key names."""
    names = split_chord(keys) if isinstance(keys, str) else [k for key in keys for k in split_chord(str(key))]
    names = join_spelled_out_keys(names)
    if not names:
        raise ActionParseError("hotkey without keys", expected="hotkey(key='ctrl c')")
    return tuple(normalize_key(name) for name in names)
