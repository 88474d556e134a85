"""Turning text into the shell commands that type it on Android.

Two paths:

* Printable ASCII goes through ``input text``. The command line passes two
  interpreters: the device shell (``sh -c``), where single quotes make every
  character literal, and ``input`` itself, which turns each ``%s`` into a
  space. Spaces are therefore sent as ``%s`` (old ``input`` versions split on
  real spaces), and a literal ``%`` directly followed by ``s`` is split across
  two commands, since ``input`` has no escape for it. Newlines and tabs become
  key events.
* Anything else (CJK, emoji, accents, control characters) goes through the
  ADBKeyboard IME as one base64 broadcast, which ``input text`` cannot do.
"""

from __future__ import annotations

import base64
import shlex

ADB_INPUT_B64_ACTION = "ADB_INPUT_B64"

_KEY_FOR_CHAR = {"\n": "KEYCODE_ENTER", "\t": "KEYCODE_TAB"}


def typable_by_input(text: str) -> bool:
    """Whether ``input text`` (plus enter/tab key events) can type ``text`` exactly."""
    return all(" " <= char <= "~" or char in _KEY_FOR_CHAR for char in text)


def keyevent_command(keycode: str) -> str:
    return f"input keyevent {keycode}"


def input_text_commands(text: str) -> tuple[str, ...]:
    """The ``input``/key event commands that type printable-ASCII ``text``."""
    if not typable_by_input(text):
        raise ValueError(f"not typable with input text: {text!r}")
    commands: list[str] = []
    run: list[str] = []
    for char in text:
        if char in _KEY_FOR_CHAR:
            commands.extend(_input_text_run("".join(run)))
            run = []
            commands.append(keyevent_command(_KEY_FOR_CHAR[char]))
        else:
            run.append(char)
    commands.extend(_input_text_run("".join(run)))
    return tuple(commands)


def _input_text_run(text: str) -> list[str]:
    return [f"input text {shlex.quote(chunk.replace(' ', '%s'))}" for chunk in _split_percent_s(text) if chunk]


def _split_percent_s(text: str) -> list[str]:
    """Split where a literal '%' meets a literal 's': ``input`` would read them as a space."""
    chunks: list[str] = []
    start = 0
    for index in range(1, len(text)):
        if text[index - 1] == "%" and text[index] == "s":
            chunks.append(text[start:index])
            start = index
    chunks.append(text[start:])
    return chunks


def ime_broadcast_command(text: str) -> str:
    """ADBKeyboard's broadcast that commits ``text`` (any Unicode) into the focused field."""
    # Base64 keeps the shell out of it: the alphabet [A-Za-z0-9+/=] needs no quoting.
    encoded = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return f"am broadcast -a {ADB_INPUT_B64_ACTION} --es msg {encoded}"


def parse_ime_list(output: str) -> frozenset[str]:
    """IME ids from ``ime list -s`` / ``ime list -a -s`` (one ``package/.Service`` per line)."""
    return frozenset(line.strip() for line in output.splitlines() if "/" in line and " " not in line.strip())
