"""Folders the agent cannot write to, made for real: a read-only bind mount and a tiny, nearly full tmpfs.

The tests run as root, where ``chmod`` stops no write; a read-only mount and a full file system stop
root too, exactly as a user's read-only share or full disk does. Mounting needs CAP_SYS_ADMIN (root in
CI here): without it the tests that use these skip.

    with read_only_folder(tmp_path) as folder: ...      # EROFS for every write under it
    with full_disk(tmp_path, free_kb=8) as folder: ...  # ENOSPC once 8 KiB more are written
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*argv: str) -> None:
    if shutil.which("mount") is None:
        pytest.skip("no mount command here")
    done = subprocess.run(["mount", *argv], capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here (needs root with CAP_SYS_ADMIN): {done.stderr.strip()}")


def _unmount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], capture_output=True, timeout=30, check=False)


@contextmanager
def read_only_folder(base: Path) -> Iterator[Path]:
    """An empty folder mounted read-only (writes fail with EROFS, root's too)."""
    source, target = base / "ro-source", base / "read-only"
    source.mkdir()
    target.mkdir()
    _mount("--bind", "-o", "ro", str(source), str(target))
    try:
        yield target
    finally:
        _unmount(target)


@contextmanager
def full_disk(base: Path, *, free_kb: int, size_kb: int = 256) -> Iterator[Path]:
    """A tmpfs of ``size_kb`` KiB with all but about ``free_kb`` KiB taken by a filler file."""
    target = base / "small-disk"
    target.mkdir()
    _mount("-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(target))
    try:
        filler = target / ".filler"
        with open(filler, "wb") as file:
            file.write(b"\0" * ((size_kb - free_kb) * 1024))
        yield target
    finally:
        _unmount(target)
