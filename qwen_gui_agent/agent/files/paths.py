"""Paths named by a file someone else made, kept inside the folder they belong to.

A run's ``run_id``, a data set's ``img_filename`` or an episode's screenshot is only a name. Joined
to a folder as it is, ``../../x``, ``/etc/passwd`` or a link that points away reads or writes
anywhere on the disk. ``inside`` takes such a name only when it stays in its folder, links
resolved; the ``*_quietly`` checks answer False instead of raising for a name the system
cannot even look up (a part over 255 bytes: ``OSError: File name too long``).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath, PureWindowsPath

MAX_NAME_BYTES = 255  # one part of a path, on every common file system


class PathEscape(ValueError):
    """A name that is not a plain path inside its folder: absolute, with ``..``, or a link out of it."""


def inside(folder: Path, name: str, *, resolved_folder: Path | None = None) -> Path:
    """``folder / name`` when ``name`` is relative, has no ``..`` and, links resolved, stays in ``folder``.

    ``resolved_folder``: ``folder.resolve()``, when the caller checks many names in one folder.
    """
    if not name or "\x00" in name:
        raise PathEscape(f"{name!r} is not a file name")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.is_absolute() or windows.drive:
        raise PathEscape(f"{name!r} is an absolute path, not a name inside {folder}")
    if ".." in posix.parts or ".." in windows.parts:
        raise PathEscape(f"{name!r} climbs out of {folder} with '..'")
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in posix.parts):
        raise PathEscape(f"{name[:60]!r}... has a part longer than {MAX_NAME_BYTES} bytes")
    path = Path(folder) / name
    try:
        resolved, root = path.resolve(), resolved_folder or Path(folder).resolve()
    except (OSError, RuntimeError) as error:  # a link loop, a name the system refuses
        raise PathEscape(f"{name!r} cannot be looked up in {folder}: {error}") from None
    if not resolved.is_relative_to(root):
        raise PathEscape(f"{name!r} is a link that leads out of {folder} (to {resolved})")
    return path


def is_plain_name(name: str) -> bool:
    """One path part that names a file or folder of its own: no separator, not ``.``/``..``, at most 255 bytes."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(c in name for c in "/\\\x00")
        and len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES
    )


def is_file_quietly(path: Path) -> bool:
    """``path.is_file()``, but False where the system cannot look the name up (too long, not encodable)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir_quietly(path: Path) -> bool:
    """``path.is_dir()``, but False where the system cannot look the name up."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def exists_quietly(path: Path) -> bool:
    try:
        return os.path.lexists(path)
    except (OSError, ValueError):
        return False
