"""A FAKE Android SDK for the emulator tests: a shell script standing in for ``emulator/emulator``.

It lists AVDs, or records its command line and idles like a running emulator; the boot itself is
played by the loopback adb server. The ``fake_sdk`` fixture (tests/devices/android/conftest.py)
lays it out in a temporary folder.
"""

from __future__ import annotations

import stat
import time
from pathlib import Path

FAKE_EMULATOR = """#!/bin/sh
# FAKE Android emulator for tests (not the SDK's): lists AVDs, or records how it was started and idles.
if [ "$1" = "-list-avds" ]; then
    echo "INFO    | Storing crashdata in: /tmp/android-ci/emu-crash-34.2.15.db, detection is enabled for process: 1"
    echo "Pixel_7_API_34"
    echo "Small_Phone"
    echo "Broken"
    exit 0
fi
echo "$@" > "$(dirname "$0")/started-with"
echo $$ > "$(dirname "$0")/pid"
if [ "$2" = "Broken" ]; then
    echo "PANIC: Missing emulator engine program for 'x86' CPU."
    exit 3
fi
exec sleep 120
"""


def written(path: Path, timeout_s: float = 10.0) -> str:
    """A file the fake emulator writes as it starts (it runs concurrently with the test)."""
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text().endswith("\n")):
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.02)
    return path.read_text()


def make_fake_sdk(tmp_path: Path) -> Path:
    binary = tmp_path / "sdk" / "emulator" / "emulator"
    binary.parent.mkdir(parents=True)
    binary.write_text(FAKE_EMULATOR)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return tmp_path / "sdk"
