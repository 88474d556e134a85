"""JSON nobody vouches for (run folders, data sets, server replies), read within limits.

Python's ``json`` trips over hostile input in ways that are not ``JSONDecodeError``: a few thousand
brackets deep raise ``RecursionError``, an integer past 4,300 digits a bare ``ValueError``, and
``1e400``, ``Infinity`` or a 400-digit float silently become infinity (an Infinity box contains every
click). ``loads_bounded`` turns each into ``JsonLimitError`` saying what was wrong, so every reader
of outside JSON fails the same clear way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JsonLimits:
    """``allow_non_finite``: NaN and Infinity are read, and a number too large to hold reads as infinity,
    for a reader that checks each item itself (a data set: one bad number costs its item, not the file)."""

    max_depth: int = 64  # a recorded step is about 5 levels deep; a chat completion about 6
    max_number_chars: int = 40  # an integer's digits or a float's characters: 2**64 has 20
    allow_non_finite: bool = False


DEFAULT_LIMITS = JsonLimits()


class JsonLimitError(ValueError):
    """Not JSON, or JSON past a limit: the message says which, in words for the file's owner.

    ``syntax``: the text is not JSON at all (rather than JSON past a limit).
    """

    def __init__(self, message: str, *, syntax: bool = False) -> None:
        self.syntax = syntax
        super().__init__(message)


class _Refused(Exception):
    """Raised from inside the parser's hooks (not a ValueError, so nothing on the way swallows it)."""


def loads_bounded(text: str | bytes, limits: JsonLimits = DEFAULT_LIMITS) -> Any:
    """The JSON value of ``text``; JsonLimitError for anything that is not JSON within ``limits``."""
    try:
        value = _parsing(lambda: json.loads(text, **_hooks(limits)), limits)
    except json.JSONDecodeError as error:
        raise JsonLimitError(
            f"not valid JSON ({error.msg} at line {error.lineno} column {error.colno})", syntax=True
        ) from None
    except ValueError as error:  # bytes that are not UTF-8
        raise JsonLimitError(f"not valid JSON ({str(error)[:80]})", syntax=True) from None
    return _shallow(value, limits, text, 0, len(text))


def raw_decode_bounded(text: str, position: int, limits: JsonLimits = DEFAULT_LIMITS) -> tuple[Any, int]:
    """One JSON value of ``text`` starting at ``position``, and where it ends (``JSONDecoder.raw_decode``), bounded.

    A syntax error stays a ``JSONDecodeError`` (with its line and column); a limit is a JsonLimitError.
    """
    decoder = json.JSONDecoder(**_hooks(limits))
    value, end = _parsing(lambda: decoder.raw_decode(text, position), limits)
    return _shallow(value, limits, text, position, end), end


def _parsing(parse: Callable[[], Any], limits: JsonLimits) -> Any:
    try:
        return parse()
    except _Refused as refused:
        raise JsonLimitError(str(refused)) from None
    except RecursionError:
        raise JsonLimitError(f"nested more than {limits.max_depth} levels deep") from None


def _shallow(value: Any, limits: JsonLimits, text: str | bytes, start: int, end: int) -> Any:
    """``value``, unless it nests deeper than the limit: walked only when the text has enough brackets to."""
    opening = (b"[", b"{") if isinstance(text, bytes) else ("[", "{")
    brackets = text.count(opening[0], start, end) + text.count(opening[1], start, end)  # type: ignore[arg-type]
    if brackets > limits.max_depth and depth_over(value, limits.max_depth):
        raise JsonLimitError(f"nested more than {limits.max_depth} levels deep")
    return value


def _hooks(limits: JsonLimits) -> dict[str, Any]:
    """The parser's number hooks: each number checked as it is read, before Python converts it."""

    def too_long(spelled: str, what: str) -> float:
        if limits.allow_non_finite:
            return -math.inf if spelled.startswith("-") else math.inf
        raise _Refused(f"{what} (at most {limits.max_number_chars})")

    def integer(digits: str) -> int | float:
        count = len(digits.lstrip("-"))
        return int(digits) if count <= limits.max_number_chars else too_long(digits, f"an integer of {count:,} digits")

    def real(spelled: str) -> float:
        if len(spelled) > limits.max_number_chars:
            return too_long(spelled, f"a number written with {len(spelled):,} characters")
        value = float(spelled)
        if not math.isfinite(value) and not limits.allow_non_finite:
            raise _Refused(f"the number {spelled} is too large for a float (it reads as infinity)")
        return value

    def constant(name: str) -> float:
        if not limits.allow_non_finite:
            raise _Refused(f"{name} is not a number (only finite numbers are allowed)")
        return float(name)

    return {"parse_int": integer, "parse_float": real, "parse_constant": constant}


def depth_over(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (iteratively: no recursion to exhaust)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
