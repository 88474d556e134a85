"""The pure Android planner: an action (input frame) -> the exact shell commands.

Pure so that CI replay recomputes the commands of a recorded run without a
device. Coordinates are physical pixels of the current orientation, which is
what ``input`` takes. The only state known at execution time alone is the
user's IME around a Unicode broadcast; the driver adds those commands around
the planned ones (see ``qwen_gui_agent.devices.android.device``).
"""

from __future__ import annotations

from collections.abc import Collection

from ...tools.actions import (
    Action,
    Answer,
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
    TripleClick,
    Type,
    Wait,
)
from ..errors import UnsupportedAction
from .apps import launch_command, resolve_package
from .keys import hotkey_command
from .settings import AndroidSettings
from .text import (
    ime_broadcast_command,
    input_text_commands,
    keyevent_command,
    typable_by_input,
)

MIN_SCROLL_FRACTION = 0.1


def plan_android(
    action: Action, settings: AndroidSettings, screen: tuple[int, int], packages: Collection[str] | None = None
) -> tuple[str, ...]:
    """Shell commands for ``action`` on a ``screen`` = (width, height) px display.

    ``packages``: the device's launchable packages, to resolve an app label
    the tables do not know; None offline.
    """
    match action:
        case Click(point=point):
            return (f"input tap {point.x} {point.y}",)
        case LongPress(point=point, duration=seconds):
            return (_swipe(point, point, seconds),)
        case Swipe(start=start, end=end, duration=seconds) | Drag(start=Point() as start, end=end, duration=seconds):
            return (_swipe(start, end, seconds),)
        case Scroll(point=point, direction=direction, amount=amount):
            start, end = scroll_path(point, direction, amount, settings, screen)
            return (_swipe(start, end, settings.scroll_duration_s),)
        case Type(text=text, submit=submit):
            return _type_commands(text) + ((keyevent_command("KEYCODE_ENTER"),) if submit else ())
        case Hotkey(keys=keys):
            return (hotkey_command(keys),)
        case PressBack():
            return (keyevent_command("KEYCODE_BACK"),)
        case PressHome():
            return (keyevent_command("KEYCODE_HOME"),)
        case PressEnter():
            return (keyevent_command("KEYCODE_ENTER"),)
        case OpenApp(name=name):
            return (launch_command(resolve_package(name, settings.app_labels, packages)),)
        case Wait() | Finished() | Answer() | CallUser():
            return ()  # the driver sleeps for Wait; the others end the loop before a device sees them
        case Drag():
            raise _desktop_only("drag without a start point (from the mouse pointer)")
        case DoubleClick() | TripleClick() | RightClick() | MiddleClick() | Move():
            raise _desktop_only(action.action)
    raise UnsupportedAction(f"unknown action {action!r}")  # pragma: no cover - the union is closed


def _swipe(start: Point, end: Point, seconds: float) -> str:
    return f"input swipe {start.x} {start.y} {end.x} {end.y} {max(1, round(seconds * 1000))}"


def _type_commands(text: str) -> tuple[str, ...]:
    if not text:
        return ()
    if typable_by_input(text):
        return input_text_commands(text)
    return (ime_broadcast_command(text),)


def scroll_path(
    point: Point | None, direction: str, amount: int, settings: AndroidSettings, screen: tuple[int, int]
) -> tuple[Point, Point]:
    """Finger start and end that scroll content ``direction`` by ``amount`` units.

    Content follows the finger, so scrolling down moves the finger up. The
    travel is ``amount`` * ``scroll_fraction_per_unit`` of the screen along the
    axis (at most ``max_scroll_fraction``), cut short at the screen edge. Only
    when the edge would leave less than ``MIN_SCROLL_FRACTION`` of travel (a
    swipe that short reads as a tap) does the start slide inward.
    """
    width, height = screen
    start = point or Point(x=width // 2, y=height // 2)
    vertical = direction in ("up", "down")
    extent = height if vertical else width
    wanted = round(extent * min(amount * settings.scroll_fraction_per_unit, settings.max_scroll_fraction))
    least = min(wanted, round(extent * MIN_SCROLL_FRACTION))
    position = min(max(start.y if vertical else start.x, 0), extent - 1)
    if direction in ("down", "right"):  # the finger moves toward 0
        position = max(position, least)
        target = max(position - wanted, 0)
    else:
        position = min(position, extent - 1 - least)
        target = min(position + wanted, extent - 1)
    if vertical:
        return Point(x=start.x, y=position), Point(x=start.x, y=target)
    return Point(x=position, y=start.y), Point(x=target, y=start.y)


def _desktop_only(what: str) -> UnsupportedAction:
    return UnsupportedAction(
        f"{what} does not exist on an Android phone",
        expected="click (tap), long_press, swipe (or drag with a start), scroll, type, hotkey, press_back, "
        "press_home, press_enter, open_app or wait",
    )
