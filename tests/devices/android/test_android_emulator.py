"""Emulator support.

No Android SDK is installed here, so the start/boot tests use a FAKE SDK: a
small shell script standing in for ``emulator/emulator`` that prints an AVD
list or records its command line and sleeps like a running emulator. The boot
itself is played by the loopback adb server (the emulator's serial appears,
then ``sys.boot_completed`` turns 1). What is real: our subprocess handling,
the command line, the adb polling over a socket, the timeout and the cleanup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.devices.android.device import AndroidSettings
from qwen_gui_agent.devices.android.emulator import EmulatorBootTimeout, list_avds, parse_avd_list, start_emulator
from qwen_gui_agent.devices.errors import DeviceError, DeviceNotFound, MissingDependency
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone
from tests.support.fake_android_sdk import written


@pytest.fixture
def sdk_settings(fake_sdk: Path, settings: AndroidSettings) -> AndroidSettings:
    return settings.model_copy(update={"sdk_root": fake_sdk, "emulator_boot_timeout_s": 10.0})


@pytest.fixture
def booting(adb_server: AdbServer) -> Iterator[VirtualPhone]:
    """emulator-5580, not yet visible to adb: each poll moves its boot one stage on."""
    phone = adb_server.add_phone(VirtualPhone("emulator-5580", model="sdk_gphone64"))
    phone.state = "absent"
    phone.props["sys.boot_completed"] = ""
    yield phone


def test_no_sdk_is_a_clear_error(settings: AndroidSettings, tmp_path: Path) -> None:
    with pytest.raises(MissingDependency, match="no Android SDK") as caught:
        list_avds(settings)
    assert "sdkmanager" in caught.value.hint and "ANDROID_HOME" in caught.value.hint
    with pytest.raises(MissingDependency, match="has no emulator"):
        list_avds(settings.model_copy(update={"sdk_root": tmp_path}))


def test_parse_avd_list_skips_log_lines() -> None:
    output = (
        "INFO    | Storing crashdata in: /tmp/android-u/emu-crash-34.1.db, detection is enabled for process: 77\n"
        "Pixel_7_API_34\n\nNexus_5X.API-29\nWARNING | unexpected thing\n"
    )
    assert parse_avd_list(output) == ["Pixel_7_API_34", "Nexus_5X.API-29"]
    assert parse_avd_list("") == []


def test_list_avds_runs_the_sdk_emulator(sdk_settings: AndroidSettings) -> None:
    assert list_avds(sdk_settings) == ["Pixel_7_API_34", "Small_Phone", "Broken"]


def test_start_waits_for_boot_then_stops(sdk_settings: AndroidSettings, fake_sdk: Path, booting: VirtualPhone) -> None:
    stages = iter(
        [lambda: setattr(booting, "state", "device"), lambda: booting.props.update({"sys.boot_completed": "1"})]
    )
    polls: list[float] = []

    def next_stage(seconds: float) -> None:
        polls.append(seconds)
        next(stages)()

    emulator = start_emulator("Pixel_7_API_34", sdk_settings, port=5580, poll_s=0.5, sleep=next_stage)
    try:
        assert emulator.serial == "emulator-5580"
        assert polls == [0.5, 0.5]  # not visible, visible but booting, booted
        assert emulator.process.poll() is None
        started = written(fake_sdk / "emulator" / "started-with").split()
        assert started == ["-avd", "Pixel_7_API_34", "-no-window", "-no-audio", "-no-boot-anim", "-port", "5580"]
        assert "getprop sys.boot_completed" in booting.commands
    finally:
        emulator.stop()
    assert emulator.process.poll() is not None


def test_boot_timeout_stops_the_emulator(sdk_settings: AndroidSettings, fake_sdk: Path, booting: VirtualPhone) -> None:
    booting.state = "device"  # visible, but Android never finishes booting
    settings = sdk_settings.model_copy(update={"emulator_boot_timeout_s": 1.0})
    with pytest.raises(EmulatorBootTimeout, match="did not finish booting"):
        start_emulator("Small_Phone", settings, port=5580, poll_s=0.05)
    pid = int(written(fake_sdk / "emulator" / "pid"))
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running
        os.kill(pid, 0)


def test_an_emulator_that_dies_is_reported_with_its_log(sdk_settings: AndroidSettings) -> None:
    with pytest.raises(DeviceError, match="exited with code 3") as caught:
        start_emulator("Broken", sdk_settings, port=5582, poll_s=0.05)
    assert "Missing emulator engine" in caught.value.hint


def test_unknown_avd_and_bad_port(sdk_settings: AndroidSettings) -> None:
    with pytest.raises(DeviceNotFound, match="Pixel_7_API_34, Small_Phone, Broken"):
        start_emulator("Nope", sdk_settings)  # the AVD list names what there is
    with pytest.raises(ValueError, match="even"):
        start_emulator("Small_Phone", sdk_settings, port=5555)
