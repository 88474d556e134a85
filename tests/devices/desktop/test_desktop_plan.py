"""The pure desktop planner: exact commands for every action kind, key names, typing routes."""

from __future__ import annotations

import ast
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_gui_agent.devices.desktop.keys import paste_chord, pyautogui_key
from qwen_gui_agent.devices.desktop.plan import PasteText, WriteText, plan_commands, plan_desktop, typeable_keys
from qwen_gui_agent.devices.desktop.settings import DesktopSettings, Region
from qwen_gui_agent.devices.errors import UnsupportedAction
from qwen_gui_agent.tools.actions import Finished, Point, Scroll, Type
from qwen_gui_agent.tools.canonical import parse_action
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.keys import NAMED_KEYS

X11 = DesktopSettings(platform="x11")
MACOS = DesktopSettings(platform="macos")

PLANS = [
    ("click(start_box='(100,200)')", ("click x=100 y=200 button=left",)),
    ("double_click(start_box='(5,6)')", ("click x=5 y=6 button=left clicks=2",)),
    ("right_click(start_box='(7,8)')", ("click x=7 y=8 button=right",)),
    ("middle_click(start_box='(9,10)')", ("click x=9 y=10 button=middle",)),
    ("move(start_box='(11,12)')", ("move x=11 y=12",)),
    ("drag(start_box='(1,2)', end_box='(300,2)')", ("drag from=1,2 to=300,2 duration=0.5 button=left",)),
    ("drag(end_box='(300,2)', duration=1.5)", ("drag from=pointer to=300,2 duration=1.5 button=left",)),
    ("scroll(start_box='(50,60)', direction='down')", ("scroll at=50,60 clicks=-5 axis=vertical",)),
    ("scroll(start_box='(50,60)', direction='up', amount=2)", ("scroll at=50,60 clicks=2 axis=vertical",)),
    ("scroll(start_box='(50,60)', direction='left', amount=3)", ("scroll at=50,60 clicks=-3 axis=horizontal",)),
    ("scroll(direction='right', amount=4)", ("scroll at=pointer clicks=4 axis=horizontal",)),
    ("type(content='hello world')", ("write text='hello world'",)),
    ("type(content='hello\\n')", ("write text='hello'", "hotkey keys='enter'")),
    ("type(content='北京到上海')", ("paste text='北京到上海' keys='ctrl v'",)),
    ("type(content='café\\n')", ("paste text='café' keys='ctrl v'", "hotkey keys='enter'")),
    ("type(content='\\n')", ("hotkey keys='enter'",)),
    ("type(content='a<b')", ("paste text='a<b' keys='ctrl v'",)),  # pyautogui types "<" as ">" on X11
    ("hotkey(key='ctrl c')", ("hotkey keys='ctrl c'",)),
    ("hotkey(key='Control+Shift+T')", ("hotkey keys='ctrl shift t'",)),
    ("hotkey(key='cmd l')", ("hotkey keys='win l'",)),
    ("hotkey(key='menu')", ("hotkey keys='apps'",)),
    ("press_enter()", ("hotkey keys='enter'",)),
    ("wait()", ("sleep seconds=5",)),
    ("wait(seconds=0.5)", ("sleep seconds=0.5",)),
]


@pytest.mark.parametrize(("text", "expected"), PLANS, ids=[text for text, _ in PLANS])
def test_plan_for_every_desktop_action(text: str, expected: tuple[str, ...]) -> None:
    assert plan_desktop(parse_action(text), X11) == expected


def test_every_desktop_action_kind_is_covered_by_the_table() -> None:
    covered = {parse_action(text).action for text, _ in PLANS}
    assert covered == {
        "click",
        "double_click",
        "right_click",
        "middle_click",
        "move",
        "drag",
        "scroll",
        "type",
        "hotkey",
        "press_enter",
        "wait",
    }


def test_less_than_is_typed_directly_where_pyautogui_gets_it_right() -> None:
    assert plan_desktop(parse_action("type(content='a<b')"), MACOS) == ("write text='a<b'",)


def test_macos_uses_command_for_cmd_and_for_pasting() -> None:
    assert plan_desktop(parse_action("hotkey(key='cmd c')"), MACOS) == ("hotkey keys='command c'",)
    assert plan_desktop(parse_action("type(content='日本語')"), MACOS) == ("paste text='日本語' keys='command v'",)


def test_xdotool_route_for_unicode_text() -> None:
    settings = DesktopSettings(platform="x11", unicode_input="xdotool")
    assert plan_desktop(parse_action("type(content='Grüße\\n')"), settings) == (
        "xdotool_type text='Grüße'",
        "hotkey keys='enter'",
    )
    # ASCII still goes through pyautogui: no external tool for the common case.
    assert plan_desktop(parse_action("type(content='abc')"), settings) == ("write text='abc'",)


def test_xdotool_is_refused_off_x11() -> None:
    with pytest.raises(ValueError, match="only on X11"):
        DesktopSettings(platform="macos", unicode_input="xdotool")


def test_type_interval_is_in_the_plan() -> None:
    settings = DesktopSettings(platform="x11", type_interval=0.05)
    assert plan_desktop(parse_action("type(content='ab')"), settings) == ("write text='ab' interval=0.05",)


@pytest.mark.parametrize(
    "text",
    [
        "long_press(start_box='(1,2)')",
        "swipe(start_box='(1,2)', end_box='(3,4)')",
        "open_app(app_name='Settings')",
        "press_back()",
        "press_home()",
    ],
)
def test_phone_actions_are_fed_back_to_the_model(text: str) -> None:
    with pytest.raises(UnsupportedAction) as caught:
        plan_desktop(parse_action(text), X11)
    assert isinstance(caught.value, ActionParseError)
    assert "desktop" in caught.value.feedback() and "click" in caught.value.feedback()


def test_terminal_actions_never_reach_the_device() -> None:
    with pytest.raises(ValueError, match="ends the run"):
        plan_desktop(Finished(message="done"), X11)


@pytest.mark.parametrize("key", sorted(NAMED_KEYS))
def test_every_canonical_key_has_a_pyautogui_name(key: str) -> None:
    name = pyautogui_key(key, "x11")
    assert name and name == name.lower() and " " not in name


def test_cmd_key_per_platform() -> None:
    assert pyautogui_key("cmd", "macos") == "command"
    assert pyautogui_key("cmd", "x11") == "win"
    assert pyautogui_key("cmd", "windows") == "win"
    assert paste_chord("macos") == ("command", "v") and paste_chord("windows") == ("ctrl", "v")


@given(st.text(min_size=1, max_size=40))
def test_typed_text_survives_the_plan_exactly(text: str) -> None:
    action = Type(text=text)
    commands = plan_commands(action, X11)
    if not action.text:  # "\n" alone means: press enter
        assert [command.as_text() for command in commands] == ["hotkey keys='enter'"]
        return
    typed = commands[0]
    assert isinstance(typed, WriteText if set(action.text) <= typeable_keys("x11") else PasteText)
    assert typed.text == action.text
    # The recorded text form carries the text exactly (a Python literal), so logs and replay lose nothing.
    literal = re.match(r"^(?:write|paste) text=('(?:[^'\\]|\\.)*')", plan_desktop(action, X11)[0])
    assert literal is not None and ast.literal_eval(literal.group(1)) == action.text
    assert plan_desktop(action, X11) == plan_desktop(action, X11)
    assert (commands[-1].as_text() == "hotkey keys='enter'") == action.submit


@given(
    st.integers(-5000, 5000),
    st.integers(-5000, 5000),
    st.sampled_from(["up", "down", "left", "right"]),
    st.integers(1, 100),
)
def test_scroll_sign_and_axis(x: int, y: int, direction: str, amount: int) -> None:
    (text,) = plan_desktop(Scroll(point=Point(x=x, y=y), direction=direction, amount=amount), X11)
    sign = 1 if direction in ("up", "right") else -1
    axis = "horizontal" if direction in ("left", "right") else "vertical"
    assert text == f"scroll at={x},{y} clicks={sign * amount} axis={axis}"


def test_region_parse() -> None:
    assert Region.parse("800x600+1920+0") == Region(left=1920, top=0, width=800, height=600)
    assert str(Region.parse("640x480+10+20")) == "640x480+10+20"
    with pytest.raises(ValueError, match="WxH"):
        Region.parse("800x600")
