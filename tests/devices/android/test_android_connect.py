"""Device selection, TCP connect, listing, and the retry path when the adb link breaks."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qwen_gui_agent.devices.android.device import AndroidSettings, list_android, open_android
from qwen_gui_agent.devices.errors import DeviceDisconnected, DeviceNotFound
from qwen_gui_agent.tools.actions import Click, PressBack
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone


def test_list_reports_model_resolution_and_orientation(adb_server: AdbServer, settings: AndroidSettings) -> None:
    tablet = adb_server.add_phone(VirtualPhone("R58M123ABC", model="SM_T870", size=(1600, 2560)))
    tablet.set_rotation(1)
    adb_server.add_phone(VirtualPhone("0123456789", model="Locked", state="unauthorized"))
    infos = {info.serial: info for info in list_android(settings)}
    assert set(infos) == {"emulator-5554", "R58M123ABC", "0123456789"}
    phone = infos["emulator-5554"]
    assert (phone.model, phone.width, phone.height, phone.orientation, phone.state) == (
        "Pixel_7",
        360,
        800,
        "portrait",
        "device",
    )
    tab = infos["R58M123ABC"]
    assert (tab.model, tab.width, tab.height, tab.orientation, tab.rotation) == ("SM_T870", 2560, 1600, "landscape", 1)
    locked = infos["0123456789"]
    assert (locked.state, locked.width, locked.orientation) == ("unauthorized", None, None)
    assert "host:devices-l" in adb_server.requests


def test_the_only_device_is_chosen(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.add_phone(VirtualPhone("offline-one", state="offline"))
    with open_android(None, settings) as device:
        assert device.name == "emulator-5554" and device.kind == "mobile"


def test_pick_by_serial_among_several(adb_server: AdbServer, settings: AndroidSettings) -> None:
    second = adb_server.add_phone(VirtualPhone("emulator-5556"))
    with open_android("emulator-5556", settings) as device:
        device.execute(Click(point={"x": 3, "y": 4}))
    assert second.events == [("tap", 3, 4)]
    assert adb_server.phone.events == []
    assert "host:tport:serial:emulator-5556" in adb_server.requests


def test_several_devices_without_a_serial_is_an_error(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.add_phone(VirtualPhone("emulator-5556"))
    with pytest.raises(DeviceNotFound, match="2 Android devices") as caught:
        open_android(None, settings)
    assert "emulator-5554" in str(caught.value) and "emulator-5556" in str(caught.value)


def test_no_device_is_an_error_listing_what_is_there(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.phone.state = "unauthorized"
    with pytest.raises(DeviceNotFound, match="no Android device is ready") as caught:
        open_android(None, settings)
    assert "emulator-5554 (unauthorized)" in str(caught.value)


def test_unknown_and_unauthorized_serials(adb_server: AdbServer, settings: AndroidSettings) -> None:
    with pytest.raises(DeviceNotFound, match="'nope'.*emulator-5554 \\(device\\)"):
        open_android("nope", settings)
    adb_server.phone.state = "unauthorized"
    with pytest.raises(DeviceNotFound, match="unauthorized") as caught:
        open_android("emulator-5554", settings)
    assert "Allow USB debugging" in caught.value.hint


def test_serial_from_settings(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.add_phone(VirtualPhone("emulator-5556"))
    with open_android(None, settings.model_copy(update={"serial": "emulator-5556"})) as device:
        assert device.name == "emulator-5556"


def test_tcp_serial_connects_first(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.reachable.add("192.168.1.20:5555")
    adb_server.add_phone(VirtualPhone("emulator-5556"))  # two devices: only the serial decides
    with open_android("192.168.1.20:5555", settings) as device:
        assert device.name == "192.168.1.20:5555"
        device.execute(PressBack())
    assert adb_server.requests.index("host:connect:192.168.1.20:5555") < adb_server.requests.index("host:devices-l")
    assert adb_server.phones["192.168.1.20:5555"].events == [("key", "KEYCODE_BACK")]


def test_tcp_connect_failure_is_device_not_found(adb_server: AdbServer, settings: AndroidSettings) -> None:
    with pytest.raises(DeviceNotFound, match="Connection refused") as caught:
        open_android("10.0.0.9:5555", settings)
    assert "wireless debugging" in caught.value.hint


def test_dropped_connections_are_retried(adb_server: AdbServer, settings: AndroidSettings) -> None:
    with open_android(None, settings) as device:
        adb_server.fail_next(3)
        execution = device.execute(PressBack())
    assert execution.commands == ("input keyevent KEYCODE_BACK",)
    assert adb_server.commands.count("input keyevent KEYCODE_BACK") == 1  # sent once, not once per attempt


def test_device_offline_for_a_moment_is_retried(adb_server: AdbServer, settings: AndroidSettings) -> None:
    with open_android(None, settings) as device:
        adb_server.phone.offline_selections = 2
        device.execute(PressBack())
    assert adb_server.phone.events == [("key", "KEYCODE_BACK")]


def test_a_link_that_never_comes_back_ends_with_device_disconnected(
    adb_server: AdbServer, settings: AndroidSettings
) -> None:
    with open_android(None, settings) as device:
        adb_server.fail_next(10_000)
        with pytest.raises(DeviceDisconnected, match="failed 4 times") as caught:
            device.execute(PressBack())
    assert "adb devices" in caught.value.hint
    assert adb_server.commands == []


def test_a_device_that_stays_gone_ends_with_device_disconnected(
    adb_server: AdbServer, settings: AndroidSettings
) -> None:
    with open_android(None, settings.model_copy(update={"retries": 1})) as device:
        adb_server.phone.state = "absent"
        with pytest.raises(DeviceDisconnected, match="not found"):
            device.screenshot()


def test_listing_retries_then_gives_up(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.fail_next(2)
    assert [info.serial for info in list_android(settings)] == ["emulator-5554"]
    adb_server.fail_next(10_000)
    with pytest.raises(DeviceDisconnected, match="adb devices"):
        list_android(settings)


def test_importing_the_driver_does_not_import_adbutils() -> None:
    code = (
        "import sys, qwen_gui_agent.devices.android.device, qwen_gui_agent.devices.android.emulator; "
        "assert 'adbutils' not in sys.modules, 'eager adbutils'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_an_action_whose_reply_is_lost_is_not_sent_again(adb_server: AdbServer, settings: AndroidSettings) -> None:
    with open_android(None, settings) as device:
        device.screenshot()
        adb_server.phone.resets_after_run = 1
        with pytest.raises(DeviceDisconnected, match="may have run"):
            device.execute(PressBack())
        assert adb_server.phone.events == [("key", "KEYCODE_BACK")]  # it did run, once
        adb_server.phone.resets_after_run = 1
        shot = device.screenshot()  # a query is safe to repeat: retried
    assert shot.image.size == (360, 800)
    assert adb_server.commands.count("screencap") == 3


def test_an_older_adb_server_is_driven_through_host_transport() -> None:
    with AdbServer(version=40) as server:
        settings = AndroidSettings(adb_port=server.port, retry_backoff_s=0.001)
        with open_android(None, settings) as device:
            device.execute(Click(point={"x": 1, "y": 2}))
        assert server.phone.events == [("tap", 1, 2)]
        assert "host:transport:emulator-5554" in server.requests
        assert not any(request.startswith("host:tport:") for request in server.requests)
