"""The Qwen3 generation's ``computer_use`` / ``mobile_use`` functions: Qwen3-VL, Qwen3.5, GUI-Owl-1.5.

They extend Qwen2.5-VL's functions (``qwen_schema``) with the actions their own
cookbooks define (docs/models.md cites each source): on the computer
``triple_click``, ``hscroll`` and ``answer``; on the phone ``answer``; GUI-Owl-1.5
adds ``interact`` (ask the user) to both. Points are thousandths of the screen,
and the prompt names the screen size the model was trained to read
(``1000x1000`` / ``999x999``). As in ``qwen_schema``, one table per function
drives the schema in the prompt, the parser and the formatter.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..actions import (
    Action,
    Answer,
    CallUser,
    DeviceKind,
    Scroll,
    TripleClick,
    action_adapter,
)
from ..canonical import action_from_call
from ..errors import ActionParseError
from ..frames import ModelFrame, read_point
from . import qwen_schema
from .qwen_schema import COMPUTER_ACTIONS, MOBILE_ACTIONS, PARAMS, QwenAction, QwenParam


def _by_name(table: tuple[QwenAction, ...]) -> dict[str, QwenAction]:
    return {entry.name: entry for entry in table}


_COMPUTER = _by_name(COMPUTER_ACTIONS)
_MOBILE = _by_name(MOBILE_ACTIONS)
TRIPLE_CLICK = QwenAction(
    "triple_click",
    "click the left mouse button three times at a point (selects a line).",
    TripleClick,
    {"coordinate": "point"},
)
HSCROLL = QwenAction(
    "hscroll",
    "turn the wheel sideways, over a point if one is given.",
    Scroll,
    {"pixels": "amount", "coordinate": "point"},
    optional=("coordinate",),
)
ANSWER = QwenAction("answer", "give the answer the task asked for; this ends the task.", Answer, {"text": "text"})
INTERACT = QwenAction(
    "interact", "ask the user to deal with something only they can (a login, a choice).", CallUser, {"text": "question"}
)

_COMPUTER_NAMES = (
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
)

QWEN3_COMPUTER: tuple[QwenAction, ...] = (
    *(_COMPUTER[name] for name in _COMPUTER_NAMES),
    TRIPLE_CLICK,
    _COMPUTER["scroll"],
    HSCROLL,
    _COMPUTER["wait"],
    _COMPUTER["terminate"],
    ANSWER,
)
QWEN3_MOBILE: tuple[QwenAction, ...] = (
    *(_MOBILE[name] for name in ("key", "click", "long_press", "swipe", "type")),
    ANSWER,
    *(_MOBILE[name] for name in ("system_button", "open", "wait", "terminate")),
)
GUI_OWL_COMPUTER: tuple[QwenAction, ...] = (*QWEN3_COMPUTER, INTERACT)
GUI_OWL_MOBILE: tuple[QwenAction, ...] = (
    *(_MOBILE[name] for name in ("key", "click", "long_press", "swipe", "type", "system_button", "open", "wait")),
    ANSWER,
    INTERACT,
    _MOBILE["terminate"],
)

# The parameters as Qwen2.5-VL's, with the point and scroll notes in thousandths and both scroll directions.
_RELATIVE_POINT = "[x, y]: how far right and down the point is, in thousandths of the screen's width and height."
QWEN3_PARAMS: dict[str, QwenParam] = {
    **PARAMS,
    "coordinate": QwenParam("coordinate", _RELATIVE_POINT, {"type": "array"}),
    "coordinate2": QwenParam(
        "coordinate2", "[x, y]: where the swipe ends, in the same thousandths.", {"type": "array"}
    ),
    "pixels": QwenParam(
        "pixels",
        "For `scroll`, positive scrolls up and negative down; for `hscroll`, positive scrolls right and negative left.",
        {"type": "number"},
    ),
}


@dataclass(frozen=True)
class Qwen3Variant:
    """What differs between the models of this generation."""

    dialect: str
    call_format: str  # "json": {"name": ..., "arguments": ...}; "xml": <function=...><parameter=...>
    tables: Mapping[DeviceKind, tuple[QwenAction, ...]]
    # The screen size the prompt names when answers are relative (the model's own prompts say these).
    relative_screen: Mapping[DeviceKind, str] = field(default_factory=dict)
    relative_scale: int = 999
    thought_first: bool = True  # "Thought:" before "Action:" (GUI-Owl-1.5 answers with "Action:" only)


QWEN3_VL = Qwen3Variant(
    "qwen3",
    "json",
    {"computer": QWEN3_COMPUTER, "mobile": QWEN3_MOBILE},
    {"computer": "1000x1000", "mobile": "999x999"},
)
QWEN3_5 = Qwen3Variant(
    "qwen3.5",
    "xml",
    {"computer": QWEN3_COMPUTER, "mobile": QWEN3_MOBILE},
    {"computer": "1000x1000", "mobile": "1000x1000"},
)
GUI_OWL = Qwen3Variant(
    "guiowl",
    "json",
    {"computer": GUI_OWL_COMPUTER, "mobile": GUI_OWL_MOBILE},
    {"computer": "1000x1000", "mobile": "1000x1000"},
    relative_scale=1000,
    thought_first=False,
)


# ----------------------------------------------------------------------------- schema


def function_description(variant: Qwen3Variant, device: DeviceKind, frame: ModelFrame) -> str:
    screen = variant.relative_screen[device] if frame.relative else f"{frame.width}x{frame.height}"
    unit = "thousandths of the screen" if frame.relative else "pixels of that screen"
    what = "a computer's mouse and keyboard" if device == "computer" else "an Android phone's touch screen"
    lines = [
        f"Work {what} while looking at screenshots of the screen.",
        f"* The screen's resolution is {screen}.",
        f"* Give points in {unit}, aiming at the centre of the element you mean.",
        (
            "* Actions take effect before the next screenshot: check it before assuming success, and if a point "
            "did nothing, aim again instead of repeating it."
        ),
        "* When the task is a question, finish with `answer`; otherwise finish with `terminate`.",
    ]
    return "\n".join(lines)


def function_schema(variant: Qwen3Variant, device: DeviceKind, frame: ModelFrame) -> dict[str, object]:
    """The tool signature shown inside ``<tools></tools>``."""
    table = variant.tables[device]
    listing = "\n".join(f"* `{action.name}`: {action.summary}" for action in table)
    properties: dict[str, object] = {
        "action": {
            "description": "The action to perform:\n" + listing,
            "enum": [a.name for a in table],
            "type": "string",
        },
    }
    params = QWEN3_PARAMS if frame.relative else PARAMS
    for name, param in params.items():
        users = [action for action in table if name in action.fields]
        if users:
            properties[name] = qwen_schema._param_schema(param, users)
    return {
        "type": "function",
        "function": {
            "name": qwen_schema.FUNCTION_NAMES[device],
            "description": function_description(variant, device, frame),
            "parameters": {"properties": properties, "required": ["action"], "type": "object"},
        },
    }


# ----------------------------------------------------------------------------- call -> Action


def action_from_arguments(function: str, arguments: Mapping[str, object], frame: ModelFrame) -> Action:
    """One call's arguments -> an action (model frame): this generation's actions, then Qwen2.5-VL's."""
    name = arguments.get("action")
    folded = name.strip().lower() if isinstance(name, str) else ""
    if folded == "hscroll":
        return _horizontal_scroll(arguments, frame)
    if folded in ("triple_click", "answer", "interact"):
        rest = {key: value for key, value in arguments.items() if key != "action" and value is not None}
        return action_from_call(folded, rest, point_reader=functools.partial(read_point, frame=frame))
    return qwen_schema.action_from_arguments(function, arguments, frame)


def _horizontal_scroll(arguments: Mapping[str, object], frame: ModelFrame) -> Action:
    pixels = arguments.get("pixels")
    if isinstance(pixels, bool) or not isinstance(pixels, (int, float)) or not math.isfinite(pixels) or pixels == 0:
        raise ActionParseError(
            f"pixels must be a non-zero number, got {pixels!r}", expected='{"action": "hscroll", "pixels": 5}'
        )
    fields: dict[str, object] = {
        "direction": "right" if pixels > 0 else "left",
        "amount": max(1, int(min(abs(pixels), qwen_schema._MAX_SCROLL_AMOUNT))),
    }
    if arguments.get("coordinate") is not None:
        fields["point"] = read_point(arguments["coordinate"], frame)
    return action_adapter.validate_python({"action": "scroll", **fields})


# ----------------------------------------------------------------------------- Action -> call


def qwen3_arguments(action: Action, device: DeviceKind) -> dict[str, object] | None:
    """The call arguments for an action (history), or None where the function has no such action."""
    match action:
        case TripleClick() if device == "computer":
            return {"action": "triple_click", "coordinate": [action.point.x, action.point.y]}
        case Scroll(direction="left" | "right") if device == "computer":
            arguments: dict[str, object] = {"action": "hscroll"}
            if action.point is not None:
                arguments["coordinate"] = [action.point.x, action.point.y]
            arguments["pixels"] = action.amount if action.direction == "right" else -action.amount
            return arguments
        case Answer():
            return {"action": "answer", "text": action.text}
    return qwen_schema.qwen_arguments(action, device)
