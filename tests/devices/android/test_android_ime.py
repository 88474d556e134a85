"""Non-ASCII text through the ADBKeyboard IME: switch on, broadcast, restore (also on failure)."""

from __future__ import annotations

import base64

import pytest

from qwen_gui_agent.devices.android.device import AndroidDevice, AndroidSettings, plan_android
from qwen_gui_agent.devices.errors import DeviceError, MissingDependency
from qwen_gui_agent.tools.actions import Type
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import ADB_KEYBOARD, LATIN_IME

TEXT = "预订 北京→上海 机票 ✈"
BROADCAST = "am broadcast -a ADB_INPUT_B64 --es msg " + base64.b64encode(TEXT.encode()).decode()


def test_plan_is_the_broadcast_alone() -> None:
    assert plan_android(Type(text=TEXT, submit=True), AndroidSettings(), (1080, 2400)) == (
        BROADCAST,
        "input keyevent KEYCODE_ENTER",
    )


def test_switches_types_and_restores(device: AndroidDevice, adb_server: AdbServer) -> None:
    execution = device.execute(Type(text=TEXT, submit=True))
    assert execution.commands == (
        f"ime enable {ADB_KEYBOARD}",
        f"ime set {ADB_KEYBOARD}",
        BROADCAST,
        "input keyevent KEYCODE_ENTER",
        f"ime set {LATIN_IME}",
        f"ime disable {ADB_KEYBOARD}",
    )
    phone = adb_server.phone
    assert phone.text == TEXT + "\n"
    assert phone.current_ime == LATIN_IME
    assert ADB_KEYBOARD not in phone.imes_enabled
    # The queries that found the user's IME were asked before anything changed.
    first_switch = phone.commands.index(f"ime enable {ADB_KEYBOARD}")
    assert "settings get secure default_input_method" in phone.commands[:first_switch]


def test_recorded_commands_contain_the_plan_contiguously(device: AndroidDevice) -> None:
    action = Type(text=TEXT, submit=True)
    planned = device.plan(action)
    recorded = device.execute(action).commands
    starts = [i for i in range(len(recorded)) if recorded[i : i + len(planned)] == planned]
    assert len(starts) == 1
    extras = recorded[: starts[0]] + recorded[starts[0] + len(planned) :]
    assert all(command.startswith("ime ") for command in extras)


def test_an_enabled_ime_stays_enabled(device: AndroidDevice, adb_server: AdbServer) -> None:
    adb_server.phone.imes_enabled.add(ADB_KEYBOARD)
    execution = device.execute(Type(text="ü"))
    assert execution.commands[0] == f"ime set {ADB_KEYBOARD}"
    assert execution.commands[-1] == f"ime set {LATIN_IME}"
    assert ADB_KEYBOARD in adb_server.phone.imes_enabled
    assert adb_server.phone.text == "ü"


def test_already_active_ime_is_left_alone(device: AndroidDevice, adb_server: AdbServer) -> None:
    phone = adb_server.phone
    phone.imes_enabled.add(ADB_KEYBOARD)
    phone.current_ime = ADB_KEYBOARD
    execution = device.execute(Type(text="é"))
    assert execution.commands == ("am broadcast -a ADB_INPUT_B64 --es msg w6k=",)
    assert phone.current_ime == ADB_KEYBOARD
    assert phone.text == "é"


def test_failed_broadcast_still_restores_the_users_ime(device: AndroidDevice, adb_server: AdbServer) -> None:
    phone = adb_server.phone
    phone.broadcast_fails = True
    with pytest.raises(DeviceError, match="am broadcast"):
        device.execute(Type(text=TEXT, submit=True))
    assert phone.current_ime == LATIN_IME
    assert ADB_KEYBOARD not in phone.imes_enabled
    assert phone.commands[-2:] == [f"ime set {LATIN_IME}", f"ime disable {ADB_KEYBOARD}"]
    assert "input keyevent KEYCODE_ENTER" not in phone.commands


def test_missing_adbkeyboard_is_a_clear_error(device: AndroidDevice, adb_server: AdbServer) -> None:
    phone = adb_server.phone
    phone.imes_installed.remove(ADB_KEYBOARD)
    with pytest.raises(MissingDependency) as caught:
        device.execute(Type(text=TEXT))
    assert "ADBKeyboard" in str(caught.value)
    assert "install" in caught.value.hint and "github.com/senzhk/ADBKeyBoard" in caught.value.hint
    assert not any(command.startswith(("ime set", "ime enable", "am ")) for command in phone.commands)
    assert phone.text == ""
