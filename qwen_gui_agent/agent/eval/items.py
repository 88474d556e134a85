"""What every eval shares: a target box, a problem found while reading the data, a JSON file's items with lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


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


def json_records(path: Path) -> Iterator[tuple[int, object]]:
    """(line, value) for each item of a JSON array file or each line of a JSON Lines file.

    A JSON Lines file yields a ``DataFileError`` in place of a line that is not JSON, so one bad line
    costs one item. A JSON array that does not parse raises it: nothing in the file can be trusted.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(path, 1, f"cannot read the file: {error}") from None
    if path.suffix.lower() == ".jsonl":
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                yield number, _line_value(path, number, line)
        return
    yield from _array_items(path, text)


def _line_value(path: Path, number: int, line: str) -> object:
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        return DataFileError(path, number, f"not valid JSON ({error.msg} at column {error.colno})")


def _array_items(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """Each element of a top-level JSON array with the line it starts on."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if position >= len(text) or text[position] != "[":
        raise DataFileError(path, _line_at(text, position), "expected a JSON array of items")
    position = _skip_space(text, position + 1)
    if position < len(text) and text[position] == "]":
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise DataFileError(path, error.lineno, f"not valid JSON ({error.msg})") from None
        yield _line_at(text, position), value
        position = _skip_space(text, end)
        if position < len(text) and text[position] == ",":
            position = _skip_space(text, position + 1)
        elif position < len(text) and text[position] == "]":
            return
        else:
            raise DataFileError(path, _line_at(text, position), "expected ',' or ']' between items")


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line_at(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1
