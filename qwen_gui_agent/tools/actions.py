"""The action space: one frozen pydantic model per action, one union.

Actions are plain data. Points are integers in whatever frame the producer
speaks (model frame when parsed from an answer, input frame once mapped by
``qwen_gui_agent.tools.frames.map_action``); an action never knows its frame, the code that
holds it does. The canonical text form lives in ``qwen_gui_agent.tools.canonical``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from .keys import normalize_keys

Direction = Literal["up", "down", "left", "right"]
DeviceKind = Literal["computer", "mobile"]


class Point(BaseModel):
    model_config = ConfigDict(frozen=True)

    x: int
    y: int

    def __str__(self) -> str:
        return f"({self.x},{self.y})"


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _encodable_text(cls, value: object) -> object:
        # JSON escapes let a model write a lone surrogate ("\ud800"): no device can type it and
        # no UTF-8 record can hold it, so it is the model's mistake, caught here like any bad field.
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("the text holds a lone surrogate code point, which cannot be typed") from None
        return value

    def points(self) -> tuple[Point, ...]:
        """Every point this action carries, in field order."""
        return tuple(value for value in self.__dict__.values() if isinstance(value, Point))


class Click(_Action):
    """Left click on desktop, tap on mobile."""

    action: Literal["click"] = "click"
    point: Point


class DoubleClick(_Action):
    action: Literal["double_click"] = "double_click"
    point: Point


class TripleClick(_Action):
    """Three left clicks: selects a line or a paragraph (desktop)."""

    action: Literal["triple_click"] = "triple_click"
    point: Point


class RightClick(_Action):
    action: Literal["right_click"] = "right_click"
    point: Point


class MiddleClick(_Action):
    action: Literal["middle_click"] = "middle_click"
    point: Point


class LongPress(_Action):
    """Touch and hold (mobile)."""

    action: Literal["long_press"] = "long_press"
    point: Point
    duration: float = Field(default=1.0, gt=0, le=60, description="seconds held")


class Drag(_Action):
    """Press at start (or where the pointer is, when None), move to end, release (desktop)."""

    action: Literal["drag"] = "drag"
    start: Point | None = None
    end: Point
    duration: float = Field(default=0.5, gt=0, le=60, description="seconds for the move")


class Swipe(_Action):
    """A finger swipe from start to end (mobile)."""

    action: Literal["swipe"] = "swipe"
    start: Point
    end: Point
    duration: float = Field(default=0.3, gt=0, le=60, description="seconds for the move")


class Scroll(_Action):
    """Scroll content in a direction; without a point, at the screen centre."""

    action: Literal["scroll"] = "scroll"
    point: Point | None = None
    direction: Direction
    amount: int = Field(default=5, ge=1, le=100, description="wheel clicks (desktop)")


class Type(_Action):
    """Type text. A trailing newline in the text means 'then press enter'."""

    action: Literal["type"] = "type"
    text: str = Field(description="the text to type, any language")
    submit: bool = False

    @model_validator(mode="before")
    @classmethod
    def _trailing_newline_is_submit(cls, data: object) -> object:
        # One spelling per meaning: "abc\n" and (text="abc", submit=True) are the
        # same action, so the round trip through the text form is exact.
        # With submit already True the newline is part of the text ("a\n" then enter).
        if (
            isinstance(data, dict)
            and isinstance(data.get("text"), str)
            and data["text"].endswith("\n")
            and data.get("submit") is not True
        ):
            data = {**data, "text": data["text"][:-1], "submit": True}
        return data


class Hotkey(_Action):
    action: Literal["hotkey"] = "hotkey"
    keys: tuple[str, ...] = Field(description="key names pressed together, e.g. ctrl c")

    @field_validator("keys", mode="before")
    @classmethod
    def _normalize(cls, value: object) -> tuple[str, ...]:
        if not isinstance(value, (str, list, tuple)):
            raise ValueError("keys must be a string or a list of key names")
        return normalize_keys(value)


class Move(_Action):
    """Move the pointer (hover) without clicking."""

    action: Literal["move"] = "move"
    point: Point


class OpenApp(_Action):
    """Launch an app by package name or visible label (mobile)."""

    action: Literal["open_app"] = "open_app"
    name: str = Field(min_length=1, description="the app's visible name or package name")


class PressBack(_Action):
    action: Literal["press_back"] = "press_back"


class PressHome(_Action):
    action: Literal["press_home"] = "press_home"


class PressEnter(_Action):
    action: Literal["press_enter"] = "press_enter"


MAX_WAIT_S = 600  # one wait; longer ones are a task's budget, not an action


class Wait(_Action):
    action: Literal["wait"] = "wait"
    seconds: float = Field(default=5.0, ge=0, le=MAX_WAIT_S, description="seconds to wait")


class Finished(_Action):
    """The task is over, as the model judges it."""

    action: Literal["finished"] = "finished"
    status: Literal["success", "failure"] = Field(default="success", description="whether the task was done")
    message: str = ""


class Answer(_Action):
    """The task was a question, and this is the model's answer to it: the run ends with it (success)."""

    action: Literal["answer"] = "answer"
    text: str = Field(description="the answer to the user's question")


class CallUser(_Action):
    """The model needs the person: a question, a login, a captcha."""

    action: Literal["call_user"] = "call_user"
    question: str = ""


Action = Annotated[
    (
        Click
        | DoubleClick
        | TripleClick
        | RightClick
        | MiddleClick
        | LongPress
        | Drag
        | Swipe
        | Scroll
        | Type
        | Hotkey
        | Move
        | OpenApp
        | PressBack
        | PressHome
        | PressEnter
        | Wait
        | Finished
        | Answer
        | CallUser
    ),
    Field(discriminator="action"),
]

# Read off the union, so that a new action class is listed in one place only.
ACTION_TYPES: dict[str, type[_Action]] = {
    cls.model_fields["action"].default: cls for cls in get_args(get_args(Action)[0])
}

TERMINAL_ACTIONS = (Finished, Answer, CallUser)  # the loop handles these; no device sees them

action_adapter: TypeAdapter[Action] = TypeAdapter(Action)


# An action's own class, kept through with_points: a Click in gives a Click out (and an Action an Action).
_ActionT = TypeVar("_ActionT", bound=_Action)


def with_points(action: _ActionT, mapper: Callable[[Point], Point]) -> _ActionT:
    """Return a copy of ``action`` with every point passed through ``mapper``."""
    updates = {name: mapper(value) for name, value in action.__dict__.items() if isinstance(value, Point)}
    return action.model_copy(update=updates) if updates else action
