"""An X server that dies while xdotool is talking to it is a lost device, not a failed command.

Seen in a suite: the display stopped during a step's click; xdotool died of SIGPIPE (exit -13,
nothing on stderr) instead of saying "Can't open display", and the run ended with "xdotool
mousemove failed ... check the display's XTEST extension" instead of "the X display is gone". The
xdotool here is the real sequence, made repeatable: a shim on PATH that stops the real Xvfb and
then dies of SIGPIPE, as xdotool does when the server closes its connection mid-command.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.devices.desktop.settings import DesktopSettings
from qwen_gui_agent.devices.desktop.xdotool_input import XdotoolInput
from qwen_gui_agent.devices.errors import DeviceDisconnected, DeviceError
from tests.support.e2e import xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb]


@pytest.fixture
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(320, 240)


def xdotool_dying_of_sigpipe(folder: Path, monkeypatch: pytest.MonkeyPatch, *, stop: XvfbServer | None) -> None:
    """An ``xdotool`` first on PATH that (optionally) stops the X server ``stop``, then dies of SIGPIPE.

    The server is gone once its socket is (a stopped Xvfb stays a zombie until the test reaps it).
    """
    socket = f"/tmp/.X11-unix/X{stop.number}" if stop else ""
    stop_it = f"kill -TERM {stop.process.pid}; while [ -e {socket} ]; do sleep 0.05; done\n" if stop else ""
    shim = folder / "xdotool"
    shim.write_text(f"#!/bin/sh\n{stop_it}kill -PIPE $$\n", encoding="utf-8")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_a_server_dying_mid_command_is_a_lost_display(
    display: XvfbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdotool_dying_of_sigpipe(tmp_path, monkeypatch, stop=display)
    device = XdotoolInput(DesktopSettings(display=display.display))
    with pytest.raises(DeviceDisconnected, match=f"the X display {display.display} is gone"):
        device.pointer()


def test_a_failed_command_on_a_live_server_stays_a_command_error(
    display: XvfbServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xdotool_dying_of_sigpipe(tmp_path, monkeypatch, stop=None)
    device = XdotoolInput(DesktopSettings(display=display.display))
    with pytest.raises(DeviceError, match="xdotool getmouselocation failed") as raised:
        device.pointer()
    assert not isinstance(raised.value, DeviceDisconnected)
