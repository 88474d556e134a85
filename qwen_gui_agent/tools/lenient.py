"""Small, exact repairs for answer slips that other agent frameworks accept and we used to refuse.

Each repair undoes one named slip and nothing else, in one linear pass; nothing
here evaluates model text.

- ``loads_lenient_json``: JSON with single-quoted strings or trailing commas
  (``{'action': 'left_click', 'coordinate': [1, 2],}``), which Qwen-Agent reads
  with json5. The text is rewritten to strict JSON and handed to ``json``; every
  other JSON5 extension (comments, hex, unquoted keys) stays an error. (``NaN`` and
  ``Infinity`` are read as ``json`` reads them; the value checks refuse them.)
- ``unwrap_point_text``: a point wrapped in redundant brackets,
  ``start_box='((100,200))'``, as UI-TARS answers sometimes carry it.
"""

from __future__ import annotations

import json

_DECODER = json.JSONDecoder()
_CLOSERS = "}]"
_PAIRS = {"(": ")", "[": "]"}
MAX_UNWRAP = 3  # brackets around a point: more than this is not a slip


def strict_json_text(text: str) -> str:
    """``text`` with single-quoted strings double-quoted and trailing commas dropped; the rest as it was."""
    out: list[str] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == '"':
            end = _string_end(text, index, '"')
            out.append(text[index:end])
            index = end
        elif char == "'":
            end = _string_end(text, index, "'")
            closed = end - index >= 2 and text[end - 1] == "'"
            # An unclosed string stays as written, so the JSON stays broken: truncation is not a slip.
            out.append(_requoted(text[index + 1 : end - 1]) if closed else text[index:end])
            index = end
        elif char == "," and _next_significant(text, index + 1) in _CLOSERS:
            index += 1  # a trailing comma: dropped
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _string_end(text: str, start: int, quote: str) -> int:
    """The index just past the string opened at ``start`` (the end of text if it never closes)."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        index += 1
    return len(text)


def _requoted(body: str) -> str:
    """A single-quoted string's body as a double-quoted JSON string: ``\\'`` unescaped, ``"`` escaped."""
    out = ['"']
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            pair = body[index : index + 2]
            out.append("'" if pair == "\\'" else pair)
            index += 2
            continue
        out.append('\\"' if char == '"' else char)
        index += 1
    out.append('"')
    return "".join(out)


def _next_significant(text: str, start: int) -> str:
    index = start
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return text[index] if index < len(text) else ""


def loads_lenient_json(text: str) -> object:
    """The JSON value at the start of ``text`` (what follows it is ignored), allowing the two slips.

    Raises ``ValueError`` (``json.JSONDecodeError`` included) when even the repaired text is not JSON.
    """
    try:
        value, _ = _DECODER.raw_decode(strict_json_text(text.lstrip()))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return value


def unwrap_point_text(text: str) -> str:
    """``((100,200))`` -> ``(100,200)``: outer bracket pairs that wrap a whole bracketed point, peeled."""
    for _ in range(MAX_UNWRAP):
        stripped = text.strip()
        if len(stripped) < 4 or stripped[0] not in _PAIRS or stripped[-1] != _PAIRS[stripped[0]]:
            return stripped
        inner = stripped[1:-1].strip()
        if not inner or inner[0] not in _PAIRS or inner[-1] != _PAIRS[inner[0]] or not _balanced(inner):
            return stripped
        text = inner
    return text.strip()


def _balanced(text: str) -> bool:
    """Whether ``text``'s first bracket closes at its last character (so peeling one pair is safe)."""
    depth = 0
    for index, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth == 0 and index != len(text) - 1:
                return False
    return depth == 0
