"""python-xlib connects without a cookie when there is none to find, as libX11 does, and prints nothing.

Each case runs in a fresh process: the fix wraps python-xlib's lookup once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import REPO
from tests.support.xvfb import XvfbServer, XvfbUnavailable, start_xvfb_server

pytestmark = pytest.mark.xvfb

OPEN_KEYS = (
    "from qwen_gui_agent.devices.desktop.keymap import SpareKeys; "
    "keys = SpareKeys.open({display!r}); print('spare', keys.capacity > 0); keys.close()"
)


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    try:
        server = start_xvfb_server(320, 240)
    except XvfbUnavailable as error:
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.close()


def open_keys(display: XvfbServer, xauthority: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XAUTHORITY": str(xauthority), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", OPEN_KEYS.format(display=display.display)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("cookies", ["missing", "empty"])
def test_no_cookie_file_connects_quietly(display: XvfbServer, tmp_path: Path, cookies: str) -> None:
    xauthority = tmp_path / "Xauthority"
    if cookies == "empty":
        xauthority.touch()
    result = open_keys(display, xauthority)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "spare True\n"  # nothing else on stdout: no "Xlib.xauth: warning ..."
