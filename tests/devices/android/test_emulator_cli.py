"""`agent emulator list|start` through the real CLI, on the FAKE SDK of test_android_emulator.py
(a shell script standing in for the SDK's emulator) and the loopback adb server."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone
from tests.support.fake_android_sdk import written

runner = CliRunner()


def test_list_reads_the_sdk_from_android_home(fake_sdk: Path) -> None:
    result = runner.invoke(build_app(), ["emulator", "list", "--json"], env={"ANDROID_HOME": str(fake_sdk)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == ["Pixel_7_API_34", "Small_Phone", "Broken"]


def test_without_an_sdk_the_error_says_how_to_get_one() -> None:
    result = runner.invoke(build_app(), ["emulator", "list"], env={"ANDROID_HOME": "", "ANDROID_SDK_ROOT": ""})
    assert result.exit_code == 1
    assert "no Android SDK is configured" in result.stderr and "--sdk" in result.stderr


def test_start_boots_and_leaves_it_running(fake_sdk: Path, adb_server: AdbServer) -> None:
    phone = adb_server.add_phone(VirtualPhone("emulator-5584", model="sdk_gphone64"))
    phone.props["sys.boot_completed"] = "1"
    result = runner.invoke(
        build_app(),
        [
            "emulator",
            "start",
            "Small_Phone",
            "--port",
            "5584",
            "--sdk",
            str(fake_sdk),
            "--adb-port",
            str(adb_server.port),
            "--timeout",
            "20",
        ],
    )
    try:
        assert result.exit_code == 0, result.output
        assert "emulator-5584 booted" in result.stdout and "--device android:emulator-5584" in result.stdout
        started = written(fake_sdk / "emulator" / "started-with").split()
        assert started == ["-avd", "Small_Phone", "-no-window", "-no-audio", "-no-boot-anim", "-port", "5584"]
    finally:
        pid = re.search(r"pid (\d+)", result.stdout)
        if pid:
            os.kill(int(pid.group(1)), signal.SIGTERM)


def test_start_rejects_an_odd_console_port(fake_sdk: Path) -> None:
    result = runner.invoke(build_app(), ["emulator", "start", "Small_Phone", "--port", "5555", "--sdk", str(fake_sdk)])
    assert result.exit_code == 2
