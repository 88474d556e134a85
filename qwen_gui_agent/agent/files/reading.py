"""Reading a file someone else made: only a regular file, never more than a cap, one bounded line at a time.

A run folder or data set may come from anyone. Its ``steps.jsonl`` may be a link to ``/dev/zero``
(read until memory runs out) or a named pipe (a read that never returns), or one line may be a
gigabyte. ``open_regular`` refuses anything but a regular file (checked on the opened descriptor,
so a link swapped in between cannot slip past) and anything larger than its cap; ``json_lines``
reads JSON Lines within a line cap and the JSON limits of ``bounded_json``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .bounded_json import DEFAULT_LIMITS, JsonLimitError, JsonLimits, loads_bounded

MIB = 1024 * 1024


class FileRefused(OSError):
    """Not a regular file, or larger than the reader's cap: the message names the file and why."""


def open_regular(path: Path, max_bytes: int) -> IO[bytes]:
    """``path`` opened for reading in binary; FileRefused unless it is a regular file of at most ``max_bytes``.

    FileNotFoundError (and other OSErrors) pass through as they are.
    """
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by its type).
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(f"{path} is not a regular file ({_kind(info.st_mode)}): it is not read")
        if info.st_size > max_bytes:
            raise FileRefused(f"{path} is larger than {max_bytes:,} bytes ({info.st_size:,}): it is not read")
        os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The whole of a regular file of at most ``max_bytes`` (a file still growing is cut at the cap + 1 and refused)."""
    with open_regular(path, max_bytes) as stream:
        data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileRefused(f"{path} is larger than {max_bytes:,} bytes: it is not read")
    return data


def json_lines(
    path: Path, *, max_bytes: int, max_line_bytes: int = 16 * MIB, limits: JsonLimits = DEFAULT_LIMITS
) -> Iterator[tuple[int, Any, bool]]:
    """(line number, value or JsonLimitError, whether it is the last line) for each line that is not blank.

    A bad line is yielded as its error (the caller decides whether one bad line spoils the file); a line
    longer than ``max_line_bytes`` is yielded as an error without being held whole.
    """
    with open_regular(path, max_bytes) as stream:
        previous: tuple[int, Any] | None = None
        for number, line in enumerate(_lines(stream, max_line_bytes), start=1):
            if line is not None and not line.strip():
                continue
            if previous is not None:
                yield (*previous, False)
            value = (
                JsonLimitError(f"a line longer than {max_line_bytes:,} bytes") if line is None else _value(line, limits)
            )
            previous = (number, value)
        if previous is not None:
            yield (*previous, True)


def _lines(stream: IO[bytes], max_line_bytes: int) -> Iterator[bytes | None]:
    """Each line's bytes, or None for a line past the cap (read on to its end without keeping it)."""
    while line := stream.readline(max_line_bytes + 1):
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(max_line_bytes + 1)
            yield None
        else:
            yield line


def _value(line: bytes, limits: JsonLimits) -> Any:
    try:
        return loads_bounded(line.decode("utf-8", errors="replace"), limits)
    except JsonLimitError as error:
        return error


def _kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")
