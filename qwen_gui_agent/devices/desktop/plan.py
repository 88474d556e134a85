"""The desktop planner: an action (input frame) -> the exact input commands.

Pure: no display, no pyautogui. ``plan_desktop`` returns the commands' text,
which is what a run records and what CI replay recomputes; the executor
(``qwen_gui_agent.devices.desktop.pyautogui_input``) runs the very same command objects, so what is
logged is what was done.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Literal

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
from ...tools.canonical import quote
from ...tools.frames import ScreenGeometry
from ..errors import UnsupportedAction
from .keys import paste_chord, pyautogui_keys
from .settings import DesktopPlatform, DesktopSettings

Button = Literal["left", "right", "middle"]

# pyautogui types these one key at a time; anything else goes through the clipboard
# (or xdotool), because synthetic key events cannot carry it.
DIRECTLY_TYPEABLE = frozenset(string.ascii_letters + string.digits + string.punctuation + " \n\t")
# On X11 pyautogui presses Shift + the first keycode bound to a keysym; with pc105 keymaps
# (Xvfb's too) "less" lives on the extra <LSGT> key whose shifted symbol is ">", so "<"
# comes out as ">". Measured under Xvfb; such text takes the Unicode route instead.
_TYPEABLE_ON: dict[str, frozenset[str]] = {
    "x11": DIRECTLY_TYPEABLE - {"<"},
    "macos": DIRECTLY_TYPEABLE,
    "windows": DIRECTLY_TYPEABLE,
}

DESKTOP_ACTIONS = "click, double_click, right_click, middle_click, move, drag, scroll, type, hotkey, press_enter, wait"


@dataclass(frozen=True)
class MoveTo:
    x: int
    y: int

    def as_text(self) -> str:
        return f"move x={self.x} y={self.y}"


@dataclass(frozen=True)
class ClickAt:
    x: int
    y: int
    button: Button = "left"
    clicks: int = 1

    def as_text(self) -> str:
        suffix = f" clicks={self.clicks}" if self.clicks != 1 else ""
        return f"click x={self.x} y={self.y} button={self.button}{suffix}"


@dataclass(frozen=True)
class DragTo:
    """Press at ``start`` (or where the pointer is, when None), move to ``end``, release."""

    start: tuple[int, int] | None
    end: tuple[int, int]
    duration: float
    button: Button = "left"

    def as_text(self) -> str:
        start = "pointer" if self.start is None else f"{self.start[0]},{self.start[1]}"
        return f"drag from={start} to={self.end[0]},{self.end[1]} duration={self.duration:g} button={self.button}"


@dataclass(frozen=True)
class ScrollWheel:
    """``clicks`` > 0 scrolls up (vertical) or right (horizontal), as pyautogui counts."""

    at: tuple[int, int] | None
    clicks: int
    horizontal: bool = False

    def as_text(self) -> str:
        where = "pointer" if self.at is None else f"{self.at[0]},{self.at[1]}"
        axis = "horizontal" if self.horizontal else "vertical"
        return f"scroll at={where} clicks={self.clicks} axis={axis}"


@dataclass(frozen=True)
class KeyChord:
    keys: tuple[str, ...]  # pyautogui names, pressed in order, released in reverse

    def as_text(self) -> str:
        return f"hotkey keys={quote(' '.join(self.keys))}"


@dataclass(frozen=True)
class WriteText:
    text: str
    interval: float = 0.0

    def as_text(self) -> str:
        suffix = f" interval={self.interval:g}" if self.interval else ""
        return f"write text={quote(self.text)}{suffix}"


@dataclass(frozen=True)
class PasteText:
    """Put ``text`` on the clipboard, press ``chord``, then restore the clipboard."""

    text: str
    chord: tuple[str, ...]

    def as_text(self) -> str:
        return f"paste text={quote(self.text)} keys={quote(' '.join(self.chord))}"


@dataclass(frozen=True)
class XdotoolType:
    text: str

    def as_text(self) -> str:
        return f"xdotool_type text={quote(self.text)}"


@dataclass(frozen=True)
class Sleep:
    seconds: float

    def as_text(self) -> str:
        return f"sleep seconds={self.seconds:g}"


Command = MoveTo | ClickAt | DragTo | ScrollWheel | KeyChord | WriteText | PasteText | XdotoolType | Sleep

_CLICK_KIND: dict[type, tuple[Button, int]] = {
    Click: ("left", 1),
    DoubleClick: ("left", 2),
    TripleClick: ("left", 3),
    RightClick: ("right", 1),
    MiddleClick: ("middle", 1),
}


def plan_commands(action: Action, settings: DesktopSettings) -> tuple[Command, ...]:
    """The input commands for one action whose points are in the input frame."""
    match action:
        case Click() | DoubleClick() | TripleClick() | RightClick() | MiddleClick():
            button, clicks = _CLICK_KIND[type(action)]
            return (ClickAt(action.point.x, action.point.y, button, clicks),)
        case Move():
            return (MoveTo(action.point.x, action.point.y),)
        case Drag():
            start = None if action.start is None else (action.start.x, action.start.y)
            return (DragTo(start, (action.end.x, action.end.y), action.duration),)
        case Scroll():
            return (_scroll(action),)
        case Type():
            return _type(action, settings)
        case Hotkey():
            return (KeyChord(pyautogui_keys(action.keys, settings.platform)),)
        case PressEnter():
            return (KeyChord(("enter",)),)
        case Wait():
            return (Sleep(action.seconds),)
        case LongPress() | Swipe() | OpenApp() | PressBack() | PressHome():
            raise UnsupportedAction(
                f"{action.action} is a phone action and this is a desktop computer",
                expected=f"one of the desktop actions: {DESKTOP_ACTIONS}",
            )
        case Finished() | Answer() | CallUser():
            raise ValueError(f"{action.action} ends the run; the agent loop handles it, not a device")
    raise TypeError(f"not an action: {action!r}")  # unreachable while the union and the match agree


def resolve_action(action: Action, geometry: ScreenGeometry) -> Action:
    """Fill in what the action leaves to the device: a scroll without a point scrolls at the screen's centre."""
    if isinstance(action, Scroll) and action.point is None:
        centre = Point(
            x=round(geometry.origin_x + geometry.width / geometry.scale / 2),
            y=round(geometry.origin_y + geometry.height / geometry.scale / 2),
        )
        return action.model_copy(update={"point": centre})
    return action


def plan_desktop(action: Action, settings: DesktopSettings) -> tuple[str, ...]:
    """The commands' text for one action (input frame): deterministic, needs no display."""
    return tuple(command.as_text() for command in plan_commands(action, settings))


def _scroll(action: Scroll) -> ScrollWheel:
    at = None if action.point is None else (action.point.x, action.point.y)
    towards_positive = action.direction in ("up", "right")
    clicks = action.amount if towards_positive else -action.amount
    return ScrollWheel(at, clicks, horizontal=action.direction in ("left", "right"))


def typeable_keys(platform: DesktopPlatform) -> frozenset[str]:
    """Characters pyautogui types correctly, one key event each, on ``platform``."""
    return _TYPEABLE_ON[platform]


def _type(action: Type, settings: DesktopSettings) -> tuple[Command, ...]:
    commands: list[Command] = []
    if action.text and set(action.text) <= typeable_keys(settings.platform):
        commands.append(WriteText(action.text, settings.type_interval))
    elif action.text and settings.unicode_input == "xdotool":
        commands.append(XdotoolType(action.text))
    elif action.text:
        commands.append(PasteText(action.text, paste_chord(settings.platform)))
    if action.submit:
        commands.append(KeyChord(("enter",)))
    return tuple(commands)
