"""Spare X11 key codes bound to the characters a text needs, so ``xdotool type`` never rebinds a key mid-text.

Why: for a character the keyboard map lacks (中, é on a US map), ``xdotool type`` binds it to one
scratch key code, sends the key and unbinds it again, character after character. An app reads
the key code's meaning when it processes the event, so an app that is busy (a loaded machine)
reads it after the key was unbound or rebound: the character is dropped or replaced, and
nothing tells us. Here every such character of the text gets a spare key code of its own
*before* xdotool runs (xdotool then finds it in the map and only presses keys), and the bindings
stay until the device closes; only when a text needs more characters than there are spare key
codes are they rebound, between chunks, after a pause.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from ..errors import DeviceError
from .xlib_auth import quiet_missing_cookies

log = logging.getLogger(__name__)

NO_SYMBOL = 0
# Before spare key codes are rebound to new characters (a text with more distinct ones than there
# are spare codes), and before they are unbound at close: time for a busy app to read the keys
# already sent while they still mean what they meant.
REBIND_GRACE_S = 1.0


def keysym_for(character: str) -> int:
    """The X keysym of a character: Latin-1 keysyms equal the code point, others are 0x01000000 + code point."""
    code = ord(character)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 + code


class SpareKeys:
    """Binds characters to unused key codes on one X display connection (python-xlib), until ``close``."""

    def __init__(self, display: Any, *, grace_s: float = REBIND_GRACE_S) -> None:
        self._display = display
        self._grace_s = grace_s
        info = display.display.info
        self._first = info.min_keycode
        self._rows = display.get_keyboard_mapping(self._first, info.max_keycode - self._first + 1)
        in_modifiers = {code for row in display.get_modifier_mapping() for code in row if code}
        self._spare = [
            self._first + index
            for index, row in enumerate(self._rows)
            if not any(row) and self._first + index not in in_modifiers
        ]
        self._known = {keysym for row in self._rows for keysym in row if keysym}
        self._bound: dict[int, int] = {}  # keysym -> the spare key code it is bound to
        self._sent_at = 0.0  # when keys bound here were last sent (see ``chunks``)

    @classmethod
    def open(cls, display_name: str | None = None) -> SpareKeys:
        """On the display ``display_name`` (":1"), or on $DISPLAY."""
        from Xlib import display as xdisplay  # python-xlib, installed with pyautogui on Linux

        quiet_missing_cookies()  # no usable Xauthority file: no cookie and no stdout warning, as libX11
        try:
            return cls(xdisplay.Display(display_name))
        except Exception as error:  # python-xlib raises its own error classes, and OSError
            raise DeviceError(
                f"cannot read the X keyboard map ({type(error).__name__}: {error})", hint="check DISPLAY and XAUTHORITY"
            ) from error

    @property
    def capacity(self) -> int:
        return len(self._spare)

    def chunks(self, text: str) -> Iterator[str]:
        """Pieces of ``text`` in order, each one's missing characters bound when it is yielded.

        The caller types each piece before asking for the next one.
        """
        missing = [keysym_for(c) not in self._known for c in text]
        if not any(missing):
            yield text
            return
        if not self._spare:
            raise DeviceError(
                "the X keyboard map has no unused key code to type non-keymap characters with",
                hint="use --unicode-input clipboard",
            )
        start = 0
        while start < len(text):
            end, needed = start, set[int]()
            while end < len(text):
                keysym = keysym_for(text[end])
                if missing[end] and keysym not in needed and len(needed) == self.capacity:
                    break
                if missing[end]:
                    needed.add(keysym)
                end += 1
            self._bind(needed)
            yield text[start:end]
            self._sent_at = time.monotonic()
            start = end

    def _bind(self, keysyms: set[int]) -> None:
        new = [keysym for keysym in keysyms if keysym not in self._bound]
        if not new:
            return
        free = [code for code in self._spare if code not in self._bound.values()]
        if len(free) < len(new):  # reuse codes of characters this piece does not need
            self._wait_for_readers()
            for keysym in [k for k in self._bound if k not in keysyms][: len(new) - len(free)]:
                free.append(self._bound.pop(keysym))
        width = len(self._rows[0])
        for keysym, code in zip(new, free, strict=False):
            self._display.change_keyboard_mapping(code, [(keysym,) * width])
            self._bound[keysym] = code
        self._display.sync()  # bound on the server before xdotool reads the map
        log.debug("bound %d characters to spare key codes", len(new))

    def _wait_for_readers(self) -> None:
        remaining = self._sent_at + self._grace_s - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def close(self) -> None:
        """Unbind every key code bound here (after the grace), and close the connection."""
        try:
            if self._bound:
                self._wait_for_readers()
                width = len(self._rows[0])
                for code in self._bound.values():
                    self._display.change_keyboard_mapping(code, [(NO_SYMBOL,) * width])
                self._display.sync()
                self._bound.clear()
        finally:
            self._display.close()
