"""python-xlib and a display without any X authority file (an Xvfb in a container run as root).

libX11 (xdotool, mss) connects there; python-xlib refused with XauthError, so typing on a
``desktop::D`` display failed before the first key. The keyboard map is now read through a
connection made with an empty authority file, and XAUTHORITY is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb]


@pytest.fixture(scope="module")
def bare_display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(320, 240)


def test_the_keyboard_map_opens_without_any_authority_file(
    bare_display: XvfbServer, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("Xlib")
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    from qwen_gui_agent.devices.desktop.keymap import SpareKeys

    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.Xauthority
    monkeypatch.setenv("XAUTHORITY", str(tmp_path / "missing"))
    with pytest.raises(xerror.XauthError):  # what python-xlib alone does here
        xdisplay.Display(bare_display.display)

    spare = SpareKeys.open(bare_display.display)
    try:
        assert spare.capacity > 0
    finally:
        spare.close()
    assert os.environ["XAUTHORITY"] == str(tmp_path / "missing")  # restored
    assert "xauth" not in capfd.readouterr().out  # python-xlib's warning about an empty file stays off stdout


def test_without_the_variable_it_stays_unset(
    bare_display: XvfbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("Xlib")
    from qwen_gui_agent.devices.desktop.keymap import SpareKeys

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XAUTHORITY", raising=False)
    SpareKeys.open(bare_display.display).close()
    assert "XAUTHORITY" not in os.environ
