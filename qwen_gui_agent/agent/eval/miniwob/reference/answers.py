"""A move written as a model of the chosen dialect answers, in the frame of the screenshot it was sent.

The frame is read from the request: the image's size, and for a relative dialect the 0..1000 (or
Qwen3-VL's 0..999) scale. A CSS point goes to the image's pixels through the task area's measured
geometry, then to the frame, rounded to whole units as a model writes them. The answer is the
dialect's own form (qwen: a ``<tool_call>``; uitars: ``Thought:`` / ``Action:``; the Qwen3 family:
a thought, the action in words, then the call) and is checked to read back, through the dialect's
own parser, as the same action: issue 27 trains models on these answers.
"""

from __future__ import annotations

from .....tools.actions import (
    Action,
    Click,
    DoubleClick,
    Drag,
    Finished,
    Hotkey,
    Point,
    Scroll,
    Type,
    Wait,
)
from .....tools.canonical import format_action
from .....tools.dialects.base import Dialect
from .....tools.dialects.qwen3 import Qwen3Dialect
from .....tools.errors import ActionParseError
from .....tools.frames import ModelFrame
from ....export.rows import RowError, answer_for
from ..view import TaskArea
from .moves import CssPoint, Move, PolicyGaveUp


def frame_of(dialect: Dialect, image_size: tuple[int, int]) -> ModelFrame:
    """The frame a model of ``dialect`` answers in for an image of ``image_size``."""
    return ModelFrame(
        width=image_size[0], height=image_size[1], relative=dialect.relative, relative_scale=dialect.relative_scale
    )


def to_frame(point: CssPoint, area: TaskArea, image_size: tuple[int, int], frame: ModelFrame) -> Point:
    """A CSS point of the page -> the frame's units, rounded; PolicyGaveUp when it lies outside the screenshot."""
    if not area.contains(*point):
        raise PolicyGaveUp(f"the point {point[0]:.1f},{point[1]:.1f} (CSS px) is outside the captured task area")
    x, y = area.to_image(*point, image_size)
    extent_x, extent_y = frame.extent
    limit_x, limit_y = frame.limits
    return Point(
        x=min(max(round(x * extent_x / image_size[0]), 0), limit_x),
        y=min(max(round(y * extent_y / image_size[1]), 0), limit_y),
    )


def to_action(move: Move, area: TaskArea, image_size: tuple[int, int], frame: ModelFrame) -> Action:
    """The move as an action in the model frame."""

    def at(point: CssPoint | None) -> Point:
        if point is None:
            raise ValueError(f"a {move.kind} move needs a point")
        return to_frame(point, area, image_size, frame)

    match move.kind:
        case "click":
            return Click(point=at(move.point))
        case "double_click":
            return DoubleClick(point=at(move.point))
        case "drag":
            return Drag(start=at(move.point), end=at(move.end))
        case "scroll":
            return Scroll(point=at(move.point), direction=move.direction, amount=move.amount)
        case "type":
            return Type(text=move.text)
        case "hotkey":
            return Hotkey(keys=move.keys)
        case "wait":
            return Wait(seconds=move.seconds)
        case "finished":
            return Finished(status="success" if move.success else "failure", message="")
    raise ValueError(f"unknown move {move.kind!r}")


def write_answer(dialect: Dialect, action: Action, thought: str, frame: ModelFrame) -> str:
    """The answer a model of ``dialect`` gives for ``action``, checked to parse back to the same action."""
    if isinstance(dialect, Qwen3Dialect):
        call = dialect.format_call(action, "computer")
        prose = f"Action: {thought}" if not dialect.variant.thought_first else f"Thought: {thought}\nAction: {thought}"
        answer = f"{prose}\n<tool_call>\n{call}\n</tool_call>" if call.startswith(("{", "<")) else f"{prose}\n{call}"
        _check(dialect, answer, action, frame)
        return answer
    try:
        # The writer `agent export` uses for corrected labels: qwen bare tool calls, uitars Thought/Action.
        return answer_for(dialect, [action], "" if dialect.name == "qwen" else thought, "computer", frame)
    except RowError as error:
        raise ValueError(f"the {dialect.name} dialect cannot write {format_action(action)}: {error}") from None


def _check(dialect: Dialect, answer: str, action: Action, frame: ModelFrame) -> None:
    try:
        parsed = dialect.parse(answer, frame)
    except ActionParseError as error:
        raise ValueError(f"the {dialect.name} answer for {format_action(action)} does not parse: {error}") from None
    if [format_action(item) for item in parsed.actions] != [format_action(action)]:
        raise ValueError(
            f"the {dialect.name} answer for {format_action(action)} reads back as "
            f"{'; '.join(format_action(item) for item in parsed.actions)}"
        )
