"""The driver end to end against the loopback adb server: what the phone receives for each action."""

from __future__ import annotations

import pytest

from qwen_gui_agent.devices.android.device import AndroidDevice, AndroidSettings
from qwen_gui_agent.devices.errors import UnsupportedAction
from qwen_gui_agent.tools.actions import (
    Action,
    Click,
    Drag,
    Hotkey,
    LongPress,
    OpenApp,
    Point,
    PressBack,
    PressEnter,
    PressHome,
    RightClick,
    Scroll,
    Swipe,
    Type,
    Wait,
)
from qwen_gui_agent.tools.errors import ActionParseError
from tests.support.adb_server import AdbServer


def p(x: int, y: int) -> Point:
    return Point(x=x, y=y)


@pytest.mark.parametrize(
    ("action", "event"),
    [
        (Click(point=p(10, 20)), ("tap", 10, 20)),
        (LongPress(point=p(30, 40), duration=2), ("swipe", 30, 40, 30, 40, 2000)),
        (Swipe(start=p(1, 700), end=p(1, 100)), ("swipe", 1, 700, 1, 100, 300)),
        (Drag(start=p(5, 5), end=p(50, 5), duration=1), ("swipe", 5, 5, 50, 5, 1000)),
        (Scroll(point=p(180, 400), direction="down"), ("swipe", 180, 400, 180, 0, 400)),
        (PressBack(), ("key", "KEYCODE_BACK")),
        (PressHome(), ("key", "KEYCODE_HOME")),
        (PressEnter(), ("key", "KEYCODE_ENTER")),
        (Hotkey(keys="menu"), ("key", "KEYCODE_MENU")),
        (Hotkey(keys="ctrl a"), ("keycombination", "KEYCODE_CTRL_LEFT", "KEYCODE_A")),
        (OpenApp(name="com.android.settings"), ("launch", "com.android.settings")),
        (OpenApp(name="Chrome"), ("launch", "com.android.chrome")),
        (OpenApp(name="Notes"), ("launch", "com.example.notes")),  # found among the device's launchable packages
    ],
)
def test_actions_reach_the_phone(device: AndroidDevice, adb_server: AdbServer, action: Action, event: tuple) -> None:
    device.screenshot()  # the loop captures before acting; the capture sets the screen size for scrolls
    planned = device.plan(action)
    execution = device.execute(action)
    assert execution.commands == planned
    assert adb_server.phone.events == [event]
    assert adb_server.commands[-len(planned) :] == list(planned)


def test_a_model_mistake_sends_nothing(device: AndroidDevice, adb_server: AdbServer) -> None:
    for action in (RightClick(point=p(1, 1)), Hotkey(keys="f20"), OpenApp(name="com.not.installed")):
        with pytest.raises(ActionParseError):
            device.execute(action)
    assert not any(command.startswith(("input", "monkey")) for command in adb_server.commands)


def test_an_app_that_cannot_launch_is_fed_back(device: AndroidDevice, adb_server: AdbServer) -> None:
    device.plan(OpenApp(name="Chrome"))  # the launchable list is read once and kept
    del adb_server.phone.packages["com.android.chrome"]  # uninstalled during the run
    with pytest.raises(ActionParseError, match="com.android.chrome could not be launched"):
        device.execute(OpenApp(name="Chrome"))


def test_key_chords_on_old_android_are_fed_back(device: AndroidDevice, adb_server: AdbServer) -> None:
    adb_server.phone.supports_keycombination = False
    with pytest.raises(UnsupportedAction, match="Android 13"):
        device.execute(Hotkey(keys="ctrl c"))


def test_wait_sleeps_without_touching_the_phone(device: AndroidDevice, adb_server: AdbServer, settings) -> None:
    slept: list[float] = []
    waiting = AndroidDevice(device.link, settings, sleep=slept.append)
    waiting.screenshot()
    before = list(adb_server.commands)
    assert waiting.execute(Wait(seconds=1.5)).commands == ()
    assert slept == [1.5]
    assert adb_server.commands == before


def test_type_then_submit(device: AndroidDevice, adb_server: AdbServer) -> None:
    device.execute(Type(text="flights to Shanghai", submit=True))
    assert adb_server.phone.text == "flights to Shanghai\n"


def test_describe_records_the_device_and_the_settings(device: AndroidDevice, settings: AndroidSettings) -> None:
    facts = device.describe()
    assert facts["kind"] == "mobile" and facts["serial"] == "emulator-5554"
    assert (facts["model"], facts["android"], facts["sdk"]) == ("Pixel_7", "14", "34")
    assert (facts["width"], facts["height"], facts["orientation"]) == (360, 800, "portrait")
    assert AndroidSettings.model_validate(facts["settings"]) == settings


def test_an_app_installed_during_the_run_is_found(device: AndroidDevice, adb_server: AdbServer) -> None:
    device.plan(OpenApp(name="Chrome"))  # reads and keeps the launchable list
    adb_server.phone.packages["com.example.bank"] = ".Main"
    device.execute(OpenApp(name="com.example.bank"))
    assert adb_server.phone.events == [("launch", "com.example.bank")]
