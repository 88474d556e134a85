"""The pure planner: gestures, scroll geometry, keys, apps, and what a phone cannot do."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_gui_agent.devices.android.apps import parse_launchable, resolve_package
from qwen_gui_agent.devices.android.device import plan_android
from qwen_gui_agent.devices.android.plan import MIN_SCROLL_FRACTION, scroll_path
from qwen_gui_agent.devices.android.settings import AndroidSettings
from qwen_gui_agent.devices.errors import UnsupportedAction
from qwen_gui_agent.tools.actions import (
    CallUser,
    Click,
    DoubleClick,
    Drag,
    Finished,
    Hotkey,
    LongPress,
    MiddleClick,
    Move,
    OpenApp,
    Point,
    PressBack,
    PressEnter,
    PressHome,
    RightClick,
    Scroll,
    Swipe,
    Wait,
)
from qwen_gui_agent.tools.errors import ActionParseError

SETTINGS = AndroidSettings()
SCREEN = (1080, 2400)


def plan(action, screen=SCREEN, packages=None, settings=SETTINGS):
    return plan_android(action, settings, screen, packages)


def p(x: int, y: int) -> Point:
    return Point(x=x, y=y)


def test_gestures() -> None:
    assert plan(Click(point=p(540, 1200))) == ("input tap 540 1200",)
    assert plan(LongPress(point=p(10, 20), duration=1.5)) == ("input swipe 10 20 10 20 1500",)
    assert plan(Swipe(start=p(1, 2), end=p(3, 4), duration=0.25)) == ("input swipe 1 2 3 4 250",)
    assert plan(Drag(start=p(5, 6), end=p(7, 8))) == ("input swipe 5 6 7 8 500",)


def test_system_keys() -> None:
    assert plan(PressBack()) == ("input keyevent KEYCODE_BACK",)
    assert plan(PressHome()) == ("input keyevent KEYCODE_HOME",)
    assert plan(PressEnter()) == ("input keyevent KEYCODE_ENTER",)


def test_actions_without_commands() -> None:
    assert plan(Wait(seconds=2)) == ()
    assert plan(Finished()) == ()
    assert plan(CallUser(question="code?")) == ()


@pytest.mark.parametrize(
    "action",
    [
        DoubleClick(point=p(1, 1)),
        RightClick(point=p(1, 1)),
        MiddleClick(point=p(1, 1)),
        Move(point=p(1, 1)),
        Drag(end=p(9, 9)),
    ],
)
def test_desktop_only_actions_are_fed_back(action) -> None:
    with pytest.raises(UnsupportedAction) as caught:
        plan(action)
    assert isinstance(caught.value, ActionParseError)
    assert "Android" in caught.value.feedback()


@pytest.mark.parametrize(
    ("keys", "command"),
    [
        ("enter", "input keyevent KEYCODE_ENTER"),
        ("Escape", "input keyevent KEYCODE_ESCAPE"),
        ("backspace", "input keyevent KEYCODE_DEL"),
        ("delete", "input keyevent KEYCODE_FORWARD_DEL"),
        ("menu", "input keyevent KEYCODE_MENU"),
        ("home", "input keyevent KEYCODE_HOME"),
        ("volume_up", "input keyevent KEYCODE_VOLUME_UP"),
        ("ArrowLeft", "input keyevent KEYCODE_DPAD_LEFT"),
        ("a", "input keyevent KEYCODE_A"),
        ("7", "input keyevent KEYCODE_7"),
        ("f12", "input keyevent KEYCODE_F12"),
        ("ctrl c", "input keycombination KEYCODE_CTRL_LEFT KEYCODE_C"),
        ("ctrl+shift+z", "input keycombination KEYCODE_CTRL_LEFT KEYCODE_SHIFT_LEFT KEYCODE_Z"),
        ("alt tab", "input keycombination KEYCODE_ALT_LEFT KEYCODE_TAB"),
    ],
)
def test_hotkeys_map_to_key_events(keys: str, command: str) -> None:
    assert plan(Hotkey(keys=keys)) == (command,)


@pytest.mark.parametrize("keys", ["f13", "!", "ctrl !"])
def test_keys_without_a_key_event_are_fed_back(keys: str) -> None:
    with pytest.raises(UnsupportedAction, match="no Android key event"):
        plan(Hotkey(keys=keys))


# --- scroll ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        # Content scrolls down = the finger moves up; amount 5 * 0.1 = half the screen.
        ("down", "input swipe 540 1200 540 0 400"),
        ("up", "input swipe 540 1200 540 2399 400"),
        ("right", "input swipe 540 1200 0 1200 400"),
        ("left", "input swipe 540 1200 1079 1200 400"),
    ],
)
def test_scroll_at_the_centre(direction: str, expected: str) -> None:
    assert plan(Scroll(direction=direction)) == (expected,)


def test_scroll_amount_sets_the_distance() -> None:
    assert plan(Scroll(point=p(500, 2000), direction="down", amount=2)) == ("input swipe 500 2000 500 1520 400",)
    # The longest swipe is max_scroll_fraction of the screen, then the edge cuts it short.
    assert plan(Scroll(point=p(500, 2390), direction="down", amount=50)) == ("input swipe 500 2390 500 470 400",)
    assert plan(Scroll(point=p(500, 1000), direction="down", amount=50)) == ("input swipe 500 1000 500 0 400",)


def test_scroll_at_the_edge_slides_the_start_inward() -> None:
    # Scrolling down from the top row would be a tap: start a tenth of the screen lower instead.
    assert plan(Scroll(point=p(500, 3), direction="down")) == ("input swipe 500 240 500 0 400",)
    assert plan(Scroll(point=p(1079, 7), direction="left")) == ("input swipe 971 7 1079 7 400",)


def test_scroll_settings_shape_the_swipe() -> None:
    settings = AndroidSettings(scroll_fraction_per_unit=0.05, scroll_duration_s=0.2)
    assert plan(Scroll(point=p(100, 1200), direction="down", amount=4), settings=settings) == (
        "input swipe 100 1200 100 720 200",
    )


@given(
    x=st.integers(0, 1079),
    y=st.integers(0, 2399),
    amount=st.integers(1, 100),
    direction=st.sampled_from(["up", "down", "left", "right"]),
    width=st.integers(200, 3000),
    height=st.integers(200, 3000),
)
def test_scroll_swipes_stay_on_screen_and_move_the_right_way(
    x: int, y: int, amount: int, direction: str, width: int, height: int
) -> None:
    point = p(min(x, width - 1), min(y, height - 1))
    start, end = scroll_path(point, direction, amount, SETTINGS, (width, height))
    for q in (start, end):
        assert 0 <= q.x < width and 0 <= q.y < height
    vertical = direction in ("up", "down")
    extent = height if vertical else width
    moved = (end.y - start.y) if vertical else (end.x - start.x)
    across = (end.x - start.x) if vertical else (end.y - start.y)
    assert across == 0
    assert (moved < 0) == (direction in ("down", "right"))
    assert abs(moved) >= round(extent * min(MIN_SCROLL_FRACTION, amount * SETTINGS.scroll_fraction_per_unit))
    assert abs(moved) <= round(extent * SETTINGS.max_scroll_fraction)


# --- apps ------------------------------------------------------------------------------------------------------

INSTALLED = (
    "com.android.settings",
    "com.android.chrome",
    "com.google.android.deskclock",
    "com.example.notes",
    "com.example.notes.pro",
    "com.tencent.mm",
)


def test_open_app_by_package_and_label_offline() -> None:
    assert plan(OpenApp(name="com.example.app")) == ("monkey -p com.example.app -c android.intent.category.LAUNCHER 1",)
    assert plan(OpenApp(name="Settings")) == ("monkey -p com.android.settings -c android.intent.category.LAUNCHER 1",)
    assert plan(OpenApp(name="  微信 ")) == ("monkey -p com.tencent.mm -c android.intent.category.LAUNCHER 1",)
    with pytest.raises(ActionParseError, match="no app called 'Notes'"):
        plan(OpenApp(name="Notes"))


def test_label_resolution_with_the_device_package_list() -> None:
    assert resolve_package("Clock", {}, INSTALLED) == "com.google.android.deskclock"  # table, installed candidate
    assert resolve_package("chrome", {}, INSTALLED) == "com.android.chrome"
    assert resolve_package("My Notes", {"my notes": "com.example.notes.pro"}, INSTALLED) == "com.example.notes.pro"
    with pytest.raises(ActionParseError, match="several packages") as caught:
        resolve_package("notes", {}, INSTALLED)
    assert "com.example.notes.pro" in caught.value.feedback()
    with pytest.raises(ActionParseError, match="not installed"):
        resolve_package("com.missing.app", {}, INSTALLED)
    with pytest.raises(ActionParseError) as unknown:
        resolve_package("Banking", {}, INSTALLED)
    assert "com.android.chrome" in unknown.value.feedback()  # the model learns what it can open


def test_user_labels_win_over_the_built_in_table() -> None:
    settings = AndroidSettings(app_labels={"Settings": "com.vendor.settings"})
    assert plan(OpenApp(name="settings"), settings=settings) == (
        "monkey -p com.vendor.settings -c android.intent.category.LAUNCHER 1",
    )


def test_parse_launchable_reads_both_query_forms() -> None:
    brief = (
        "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=true\n"
        "  com.android.settings/.Settings\n"
        "priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false\n"
        "  com.android.chrome/com.google.android.apps.chrome.Main\n"
    )
    assert parse_launchable(brief) == ("com.android.settings", "com.android.chrome")
    assert parse_launchable("package:com.a.b\npackage:/data/app/x.apk=com.c.d\n") == ("com.a.b", "com.c.d")
    assert parse_launchable("Error: unknown command\n") == ()
