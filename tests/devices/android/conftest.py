"""Fixtures: a loopback adb server (real socket, adb host protocol) and a driver connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.devices.android.device import AndroidDevice, AndroidSettings, open_android
from tests.support.adb_server import AdbServer
from tests.support.fake_android_sdk import make_fake_sdk


@pytest.fixture
def adb_server() -> Iterator[AdbServer]:
    with AdbServer() as server:
        yield server


@pytest.fixture
def settings(adb_server: AdbServer) -> AndroidSettings:
    # Tiny backoff and no IME settle pause: the retry path runs, the suite stays fast.
    return AndroidSettings(adb_port=adb_server.port, retry_backoff_s=0.001, retry_backoff_max_s=0.01, ime_settle_s=0)


@pytest.fixture
def device(adb_server: AdbServer, settings: AndroidSettings) -> Iterator[AndroidDevice]:
    with open_android(None, settings) as opened:
        yield opened


@pytest.fixture
def fake_sdk(tmp_path: Path) -> Path:
    """A fake SDK folder whose emulator/emulator is a script (tests/support/fake_android_sdk.py)."""
    return make_fake_sdk(tmp_path)
