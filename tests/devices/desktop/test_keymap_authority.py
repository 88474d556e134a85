"""python-xlib and a display without any X authority cookie (an Xvfb in a container run as root).

libX11 (xdotool, mss) connects there quietly. python-xlib 0.33, given an EMPTY authority file,
connects too but prints "Xlib.xauth: warning, no xauthority details available" to stdout, where
it lands in the middle of ``--json`` output; given a MISSING file it connects without a cookie
(it catches its own XauthError). ``SpareKeys.open`` goes through ``quiet_missing_cookies``, so
both cases connect quietly whatever the release, and XAUTHORITY is left as it was.

What python-xlib does on its own is checked in a fresh process: the wrapper patches it process-wide
once, so in this process the answer would depend on which test ran first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb]

XLIB_WARNING = "Xlib.xauth: warning, no xauthority details available"
PLAIN_XLIB = (
    "from Xlib import display; connection = display.Display({display!r}); print('connected'); connection.close()"
)


@pytest.fixture(scope="module")
def bare_display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(320, 240)


def test_plain_python_xlib_warns_on_stdout_about_an_empty_authority_file(
    bare_display: XvfbServer, tmp_path: Path
) -> None:
    """The reason the wrapper exists: python-xlib alone puts a warning on stdout."""
    pytest.importorskip("Xlib")
    empty = tmp_path / "empty"
    empty.touch()
    env = {**os.environ, "HOME": str(tmp_path), "XAUTHORITY": str(empty)}
    result = subprocess.run(
        [sys.executable, "-c", PLAIN_XLIB.format(display=bare_display.display)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert XLIB_WARNING in result.stdout
    assert result.stdout.rstrip("\n").endswith("connected")


@pytest.mark.parametrize("cookies", ["empty", "missing"])
def test_the_keyboard_map_opens_quietly_without_a_cookie(
    bare_display: XvfbServer,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    cookies: str,
) -> None:
    pytest.importorskip("Xlib")
    from qwen_gui_agent.devices.desktop.keymap import SpareKeys

    xauthority = tmp_path / cookies
    if cookies == "empty":
        xauthority.touch()
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.Xauthority
    monkeypatch.setenv("XAUTHORITY", str(xauthority))
    capfd.readouterr()
    spare = SpareKeys.open(bare_display.display)
    try:
        assert spare.capacity > 0
    finally:
        spare.close()
    assert os.environ["XAUTHORITY"] == str(xauthority)  # left as it was
    out = capfd.readouterr().out
    assert out == "", out  # no "Xlib.xauth: warning ..." inside --json output


def test_without_the_variable_it_stays_unset(
    bare_display: XvfbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("Xlib")
    from qwen_gui_agent.devices.desktop.keymap import SpareKeys

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XAUTHORITY", raising=False)
    SpareKeys.open(bare_display.display).close()
    assert "XAUTHORITY" not in os.environ
