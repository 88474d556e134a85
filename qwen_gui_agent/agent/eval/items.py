"""What every eval shares: a target box, a problem found while reading the data, a JSON file's items with lines."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..files.bounded_json import JsonLimitError, JsonLimits, raw_decode_bounded
from ..files.reading import MIB, json_lines, read_regular


@dataclass(frozen=True)
class Box:
    """An element's bounds in screenshot pixels; both edges count as inside (as the published scorers do)."""

    x1: float
    y1: float
    x2: float
    y2: float

    def contains(self, x: float, y: float) -> bool:
        return self.x1 <= x <= self.x2 and self.y1 <= y <= self.y2

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


def box_numbers(raw: object, name: str) -> tuple[float, float, float, float]:
    """Four finite numbers (not booleans: JSON's true would read as 1) of a box; ValueError naming ``name``."""
    if not (
        isinstance(raw, list)
        and len(raw) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in raw)
    ):
        raise ValueError(f"{name} must be four numbers, got {_short(raw)}")
    if not all(math.isfinite(v) for v in raw):
        raise ValueError(
            f"{name} must hold finite numbers, got {_short(raw)} (a number too large to hold, NaN or "
            "Infinity would score every click)"
        )
    a, b, c, d = (float(v) for v in raw)
    return a, b, c, d


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class DataProblem:
    """An item that cannot be evaluated: which file, which line, and why. Counted as an error, never a crash."""

    item_id: str
    file: str
    line: int
    message: str

    def describe(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DataFileError(ValueError):
    """A whole data file cannot be read (not JSON at all); carries the line the parser stopped at."""

    def __init__(self, file: Path, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.reason = message
        super().__init__(f"{file}:{line}: {message}")


# Data sets are checked item by item: a number too large to hold reads as infinity and fails its own item's check
# (an Infinity box would contain every click), instead of spoiling the whole file.
DATA_LIMITS = JsonLimits(max_depth=32, allow_non_finite=True)
MAX_DATA_FILE_BYTES = 1024 * MIB


def json_records(path: Path) -> Iterator[tuple[int, object]]:
    """(line, value) for each item of a JSON array file or each line of a JSON Lines file.

    A JSON Lines file yields a ``DataFileError`` in place of a line that is not JSON (or nests too deep), so one
    bad line costs one item. A JSON array that does not parse raises it: nothing in the file can be trusted.
    """
    if path.suffix.lower() == ".jsonl":
        try:
            for number, value, _ in json_lines(path, max_bytes=MAX_DATA_FILE_BYTES, limits=DATA_LIMITS):
                yield number, DataFileError(path, number, str(value)) if isinstance(value, JsonLimitError) else value
        except OSError as error:
            raise DataFileError(path, 1, f"cannot read the file: {error}") from None
        return
    try:
        text = read_regular(path, MAX_DATA_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(path, 1, f"cannot read the file: {error}") from None
    yield from _array_items(path, text)


def _array_items(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """Each element of a top-level JSON array with the line it starts on (lines counted once, as the reading goes)."""
    lines = _LineCounter(text)
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise DataFileError(path, lines.at(position), "expected a JSON array of items")
    position = _skip_space(text, position + 1)
    if position < len(text) and text[position] == "]":
        return
    while True:
        try:
            value, end = raw_decode_bounded(text, position, DATA_LIMITS)
        except json.JSONDecodeError as error:
            raise DataFileError(path, error.lineno, f"not valid JSON ({error.msg})") from None
        except JsonLimitError as error:
            raise DataFileError(path, lines.at(position), str(error)) from None
        yield lines.at(position), value
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
        elif position < len(text) and text[position] == "]":
            return
        else:
            raise DataFileError(path, lines.at(position), "expected ',' or ']' between items")


class _LineCounter:
    """The line of a position in ``text``, for positions asked in increasing order: each character counted once.

    (Counting from the start for every item was quadratic: 40,000 ScreenSpot items took minutes.)
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.line = 1

    def at(self, position: int) -> int:
        if position < self.position:  # asked out of order: count from the start once more
            self.position, self.line = 0, 1
        self.line += self.text.count("\n", self.position, position)
        self.position = position
        return self.line


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
