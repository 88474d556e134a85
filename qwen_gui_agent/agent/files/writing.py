"""Replacing a file whole, in a folder someone else may have prepared.

The usual ``NAME.tmp`` beside the target is a fixed name: plant a link there (``labels.json.tmp ->
~/.bashrc``) and writing the temporary file writes through the link, anywhere. ``replace_text``
writes a fresh file of a random name created exclusively (``mkstemp``: it never opens what is
already there, link or not), then renames it over the target, which replaces a link at the target
itself rather than following it. A reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from pathlib import Path


def replace_text(path: Path, text: str, *, fsync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, through no planted link; returns ``path``."""
    return replace_bytes(path, text.encode("utf-8"), fsync=fsync)


def replace_bytes(path: Path, data: bytes, *, fsync: bool = False) -> Path:
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(data)
            if fsync:
                stream.flush()
                os.fsync(stream.fileno())
        os.chmod(temporary, 0o644 & ~_umask())  # mkstemp makes it 0600; a report or record is meant to be read
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


@functools.cache
def _umask() -> int:
    """The process's umask, read without setting it (``os.umask`` changes it for every thread meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
