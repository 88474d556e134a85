"""The hidden staging folders of exports that were killed, found and removed by the next export.

An export builds its folder as ``.NAME.partial-PID-XXXX`` beside ``-o NAME`` and renames it into
place at the end, so a failed export leaves nothing. ``kill -9`` gives it no chance to clean up:
the hidden folder stays. The next export to the same NAME removes each such folder whose process
is gone; one whose process still runs is another export at work, and is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def partial_prefix(output: Path) -> str:
    return f".{output.name}.partial-"


def remove_killed_exports(output: Path) -> list[str]:
    """Remove the staging folders beside ``output`` left by exports to it that died; their names."""
    pattern = re.compile(re.escape(partial_prefix(output)) + r"(\d+)-[^/]*")
    removed = []
    for path in sorted(output.parent.glob(partial_prefix(output) + "*")):
        match = pattern.fullmatch(path.name)
        if match is None or path.is_symlink() or not path.is_dir() or _alive(int(match.group(1))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        log.info("removed %s, left by an export that was killed", path)
        removed.append(path.name)
    return removed


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process (alive), or no process id at all
        return pid < 1 << 31
    return True
