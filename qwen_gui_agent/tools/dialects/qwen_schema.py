"""Qwen2.5-VL's ``computer_use`` / ``mobile_use`` functions, generated from our action types.

One table per function says which Qwen action builds which of our Action
classes and which Qwen parameter fills which pydantic field. The JSON schema
in the prompt, the parser (Qwen call -> Action) and the formatter
(Action -> Qwen call, for history) are all read off these tables, so the
prompt cannot drift from what the parser accepts.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from ..actions import (
    Action,
    Click,
    DeviceKind,
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
    Type,
    Wait,
    action_adapter,
)
from ..canonical import action_from_call, invalid_arguments
from ..errors import ActionParseError
from ..frames import ModelFrame, read_point
from ..keys import normalize_keys
from .base import ParsedAnswer
from .tool_calls import find_tool_calls

FUNCTION_NAMES: dict[DeviceKind, str] = {"computer": "computer_use", "mobile": "mobile_use"}

# The Android buttons Qwen's mobile_use names, and the action each one is.
SYSTEM_BUTTONS: dict[str, Action] = {
    "Back": PressBack(),
    "Home": PressHome(),
    "Menu": Hotkey(keys=("menu",)),
    "Enter": PressEnter(),
}


@dataclass(frozen=True)
class QwenParam:
    """A parameter of the function.

    Its description is built from the pydantic Field descriptions of the
    fields it fills (per action) plus ``note``; its JSON type comes from the
    first such field's annotation unless ``schema`` says otherwise.
    """

    name: str
    note: str = ""
    schema: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class QwenAction:
    """One value of the ``action`` enum: what it means and which of our actions it builds."""

    name: str
    summary: str
    builds: type[BaseModel]
    fields: Mapping[str, str] = field(default_factory=dict)  # Qwen parameter -> our field
    optional: tuple[str, ...] = ()  # parameters of ``fields`` the model may leave out


PARAMS: dict[str, QwenParam] = {
    p.name: p
    for p in (
        QwenParam("keys", 'As a list, e.g. ["ctrl", "c"].'),
        QwenParam("text", 'A final "\\n" presses Enter after typing.', {"type": "string"}),
        QwenParam("coordinate", "[x, y]: pixels right of and below the screen's top-left corner.", {"type": "array"}),
        QwenParam("coordinate2", "[x, y]: where the swipe ends, in pixels.", {"type": "array"}),
        QwenParam("pixels", "Positive scrolls up, negative scrolls down.", {"type": "number"}),
        QwenParam("time"),
        QwenParam("button", "The system button to press.", {"enum": list(SYSTEM_BUTTONS), "type": "string"}),
        QwenParam("status"),
    )
}

COMPUTER_ACTIONS: tuple[QwenAction, ...] = (
    QwenAction("key", "press a key or a key combination.", Hotkey, {"keys": "keys"}),
    QwenAction("type", "type text at the keyboard focus.", Type, {"text": "text"}),
    QwenAction("mouse_move", "move the pointer to a point without clicking.", Move, {"coordinate": "point"}),
    QwenAction("left_click", "click the left mouse button at a point.", Click, {"coordinate": "point"}),
    QwenAction(
        "left_click_drag",
        "press the left button where the pointer is, move to a point, release.",
        Drag,
        {"coordinate": "end"},
    ),
    QwenAction("right_click", "click the right mouse button at a point.", RightClick, {"coordinate": "point"}),
    QwenAction("middle_click", "click the middle mouse button at a point.", MiddleClick, {"coordinate": "point"}),
    QwenAction("double_click", "double-click the left mouse button at a point.", DoubleClick, {"coordinate": "point"}),
    QwenAction(
        "scroll",
        "turn the mouse wheel, over a point if one is given.",
        Scroll,
        {"pixels": "amount", "coordinate": "point"},
        optional=("coordinate",),
    ),
    QwenAction("wait", "do nothing for a while, then look again.", Wait, {"time": "seconds"}, optional=("time",)),
    QwenAction("terminate", "end the task and say whether it succeeded.", Finished, {"status": "status"}),
)

MOBILE_ACTIONS: tuple[QwenAction, ...] = (
    QwenAction("key", "send a key event, named in `text`.", Hotkey, {"text": "keys"}),
    QwenAction("click", "tap a point.", Click, {"coordinate": "point"}),
    QwenAction(
        "long_press",
        "touch and hold a point.",
        LongPress,
        {"coordinate": "point", "time": "duration"},
        optional=("time",),
    ),
    QwenAction(
        "swipe", "slide a finger from one point to another.", Swipe, {"coordinate": "start", "coordinate2": "end"}
    ),
    QwenAction("type", "type text into the focused field.", Type, {"text": "text"}),
    QwenAction("system_button", "press one of the phone's system buttons.", PressBack, {"button": "button"}),
    QwenAction("open", "open an app, named in `text`.", OpenApp, {"text": "name"}),
    QwenAction("wait", "do nothing for a while, then look again.", Wait, {"time": "seconds"}, optional=("time",)),
    QwenAction("terminate", "end the task and say whether it succeeded.", Finished, {"status": "status"}),
)

ACTION_TABLES: dict[DeviceKind, tuple[QwenAction, ...]] = {"computer": COMPUTER_ACTIONS, "mobile": MOBILE_ACTIONS}


# ----------------------------------------------------------------------------- schema


def _json_type(annotation: object) -> dict[str, object]:
    """The JSON schema type of a pydantic field's annotation, in the shape Qwen's schemas use."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(annotation)), "type": "string"}
    if origin in (typing.Union, types.UnionType):
        return _json_type(next(arg for arg in typing.get_args(annotation) if arg is not type(None)))
    if annotation is Point or origin in (tuple, list):
        return {"type": "array"}
    if annotation in (int, float):
        return {"type": "number"}
    return {"type": "string"}


def _param_schema(param: QwenParam, users: list[QwenAction]) -> dict[str, object]:
    fields = [
        (action, action.builds.model_fields[action.fields[param.name]])
        for action in users
        if action.fields[param.name] in action.builds.model_fields
    ]
    described: dict[str, list[str]] = {}
    for action, info in fields:
        if info.description:
            described.setdefault(info.description, []).append(action.name)
    if len(described) == 1:
        parts = [next(iter(described)).capitalize() + "."]
    else:
        parts = [f"For {', '.join(f'`{n}`' for n in names)}: {text}." for text, names in described.items()]
    if param.note:
        parts.append(param.note)
    needed_by = [action.name for action in users if param.name not in action.optional]
    if needed_by:
        parts.append("Required by " + ", ".join(f"`action={name}`" for name in needed_by) + ".")
    schema = dict(param.schema) if param.schema or not fields else _json_type(fields[0][1].annotation)
    return {"description": " ".join(parts), **schema}


def function_description(device: DeviceKind, frame: ModelFrame) -> str:
    width, height = frame.extent
    what = "a computer's mouse and keyboard" if device == "computer" else "an Android phone's touch screen"
    lines = [
        f"Work {what} while looking at screenshots of the screen.",
        f"* The screen's resolution is {width}x{height}.",
        "* Give points as pixels of that screen, aiming at the centre of the element you mean.",
        (
            "* Actions take effect before the next screenshot: check it before assuming success, and if a point "
            "did nothing, aim again instead of repeating it."
        ),
    ]
    if device == "computer":
        lines.append("* Open menus and apps by clicking what is on screen; shortcuts work too.")
    else:
        lines.append("* Swipe to reveal what is off screen; open apps with `open` rather than searching for icons.")
    return "\n".join(lines)


def function_schema(device: DeviceKind, frame: ModelFrame) -> dict[str, object]:
    """The tool signature shown to the model inside ``<tools></tools>``."""
    table = ACTION_TABLES[device]
    listing = "\n".join(f"* `{action.name}`: {action.summary}" for action in table)
    properties: dict[str, object] = {
        "action": {
            "description": "The action to perform:\n" + listing,
            "enum": [action.name for action in table],
            "type": "string",
        }
    }
    for name, param in PARAMS.items():
        users = [action for action in table if name in action.fields]
        if users:
            properties[name] = _param_schema(param, users)
    return {
        "type": "function",
        "function": {
            "name": FUNCTION_NAMES[device],
            "description": function_description(device, frame),
            "parameters": {"properties": properties, "required": ["action"], "type": "object"},
        },
    }


# ----------------------------------------------------------------------------- Qwen call -> Action


def parse_tool_call_answer(answer: str, frame: ModelFrame) -> ParsedAnswer | None:
    """The thought and actions (model frame) of an answer's ``<tool_call>`` JSON; None when it holds none."""
    found = find_tool_calls(answer)
    if found is None:
        return None
    calls, thought = found
    actions = tuple(action_from_arguments(call.function, call.arguments, frame) for call in calls)
    return ParsedAnswer(actions=actions, thought=thought)


def _find(arguments: Mapping[str, object], function: str) -> QwenAction | None:
    """The table entry for a call: the named function's table first (models mix them up), and of
    two entries with the same name the one whose required parameters are present."""
    name = arguments.get("action")
    if not isinstance(name, str):
        return None
    order: tuple[DeviceKind, DeviceKind] = (
        ("mobile", "computer") if function == FUNCTION_NAMES["mobile"] else ("computer", "mobile")
    )
    candidates = [entry for device in order for entry in ACTION_TABLES[device] if entry.name == name.strip().lower()]
    for entry in candidates:
        if all(arguments.get(p) is not None for p in entry.fields if p not in entry.optional):
            return entry
    return candidates[0] if candidates else None


def action_from_arguments(function: str, arguments: Mapping[str, object], frame: ModelFrame) -> Action:
    """Turn one Qwen call's arguments into an action in the model frame (points checked)."""
    entry = _find(arguments, function)
    if entry is None:
        return _foreign_action(arguments, frame)
    values = {name: value for name, value in arguments.items() if value is not None and name != "action"}
    for name in entry.fields:
        if name not in values and name not in entry.optional:
            raise ActionParseError(
                f"action={entry.name} needs the `{name}` parameter",
                expected=f'{{"action": "{entry.name}", "{name}": ...}}',
            )
    builder = _SPECIAL_BUILDERS.get((entry.name, entry.builds), _build_plain)
    return builder(entry, values, frame)


def _validate(kind: str, fields: dict[str, object]) -> Action:
    try:
        return action_adapter.validate_python({"action": kind, **fields})
    except ValidationError as error:
        raise invalid_arguments(kind, error) from None


def _build_plain(entry: QwenAction, values: Mapping[str, object], frame: ModelFrame) -> Action:
    fields: dict[str, object] = {}
    for qwen_name, our_field in entry.fields.items():
        if qwen_name in values:
            value = values[qwen_name]
            fields[our_field] = read_point(value, frame) if qwen_name.startswith("coordinate") else value
    if entry.builds is Drag and "coordinate2" in values:
        # A model that names both ends means a drag from the first point, not from the pointer.
        fields = {"start": fields["end"], "end": read_point(values["coordinate2"], frame)}
    kind = entry.builds.model_fields["action"].default
    return _validate(kind, fields)


_MAX_SCROLL_AMOUNT = next(rule.le for rule in Scroll.model_fields["amount"].metadata if getattr(rule, "le", None))


def _build_scroll(entry: QwenAction, values: Mapping[str, object], frame: ModelFrame) -> Action:
    pixels = values["pixels"]
    if isinstance(pixels, bool) or not isinstance(pixels, (int, float)) or not math.isfinite(pixels) or pixels == 0:
        raise ActionParseError(f"pixels must be a non-zero number, got {pixels!r}", expected='"pixels": -5')
    fields: dict[str, object] = {
        "direction": "up" if pixels > 0 else "down",
        # One pixel step is one wheel click, bounded by what Scroll allows.
        "amount": max(1, int(min(abs(pixels), _MAX_SCROLL_AMOUNT))),
    }
    if "coordinate" in values:
        fields["point"] = read_point(values["coordinate"], frame)
    return _validate("scroll", fields)


def _build_system_button(entry: QwenAction, values: Mapping[str, object], frame: ModelFrame) -> Action:
    button = str(values["button"]).strip().lower()
    for name, action in SYSTEM_BUTTONS.items():
        if name.lower() == button:
            return action
    raise ActionParseError(
        f"unknown system button {values['button']!r}", expected="one of " + ", ".join(SYSTEM_BUTTONS)
    )


def _build_mobile_key(entry: QwenAction, values: Mapping[str, object], frame: ModelFrame) -> Action:
    text = str(values["text"]).strip()
    name = text.lower().removeprefix("keycode_")
    # On a phone "back" is the system button, not backspace as on a keyboard.
    for button, action in SYSTEM_BUTTONS.items():
        if name == button.lower():
            return action
    return _validate("hotkey", {"keys": normalize_keys(name)})


_SPECIAL_BUILDERS: dict[
    tuple[str, type[BaseModel]], Callable[[QwenAction, Mapping[str, object], ModelFrame], Action]
] = {
    ("scroll", Scroll): _build_scroll,
    ("system_button", PressBack): _build_system_button,
    ("key", Hotkey): lambda entry, values, frame: (
        _build_mobile_key(entry, values, frame) if "text" in entry.fields else _build_plain(entry, values, frame)
    ),
}


def _foreign_action(arguments: Mapping[str, object], frame: ModelFrame) -> Action:
    """An action name outside Qwen's enums: read it as one of ours (``call_user``, ``hotkey`` ...)."""
    name = arguments.get("action")
    if not isinstance(name, str) or not name.strip():
        raise ActionParseError(
            "the call has no `action`", expected='{"name": "computer_use", "arguments": {"action": "left_click", ...}}'
        )
    rest = {key: value for key, value in arguments.items() if key != "action" and value is not None}
    return action_from_call(name, rest, point_reader=functools.partial(read_point, frame=frame))


# ----------------------------------------------------------------------------- Action -> Qwen call


def _is_default(action: Action, name: str) -> bool:
    return getattr(action, name) == type(action).model_fields[name].default


def _xy(point: Point) -> list[int]:
    return [point.x, point.y]


def qwen_arguments(action: Action, device: DeviceKind) -> dict[str, object] | None:
    """The Qwen call arguments for an action, or None where the function has no such action."""
    computer = device == "computer"
    match action:
        case Click():
            return {"action": "left_click" if computer else "click", "coordinate": _xy(action.point)}
        case DoubleClick() | RightClick() | MiddleClick() | Move() if computer:
            name = {
                "double_click": "double_click",
                "right_click": "right_click",
                "middle_click": "middle_click",
                "move": "mouse_move",
            }[action.action]
            return {"action": name, "coordinate": _xy(action.point)}
        case Drag() | Swipe() if not _is_default(action, "duration"):
            return None  # Qwen's calls carry no duration
        case Drag(start=None) if computer:
            return {"action": "left_click_drag", "coordinate": _xy(action.end)}
        case Drag(start=Point() as start) if computer:
            return {"action": "left_click_drag", "coordinate": _xy(start), "coordinate2": _xy(action.end)}
        case Scroll(direction="up" | "down") if computer:
            arguments: dict[str, object] = {"action": "scroll"}
            if action.point is not None:
                arguments["coordinate"] = _xy(action.point)
            arguments["pixels"] = action.amount if action.direction == "up" else -action.amount
            return arguments
        case Type():
            return {"action": "type", "text": action.text + ("\n" if action.submit else "")}
        case Hotkey() if computer:
            return {"action": "key", "keys": list(action.keys)}
        case Hotkey(keys=("menu",)):
            return {"action": "system_button", "button": "Menu"}
        case Hotkey() if len(action.keys) == 1 and action.keys[0] not in {b.lower() for b in SYSTEM_BUTTONS}:
            # ("enter",) / ("home",) would read back as the system buttons: left to the canonical form.
            return {"action": "key", "text": action.keys[0]}
        case LongPress() if not computer:
            return {"action": "long_press", "coordinate": _xy(action.point), "time": action.duration}
        case Swipe() if not computer:
            return {"action": "swipe", "coordinate": _xy(action.start), "coordinate2": _xy(action.end)}
        case PressBack() | PressHome() | PressEnter() if not computer:
            button = {"press_back": "Back", "press_home": "Home", "press_enter": "Enter"}[action.action]
            return {"action": "system_button", "button": button}
        case OpenApp() if not computer:
            return {"action": "open", "text": action.name}
        case Wait():
            return {"action": "wait", "time": action.seconds}
        case Finished(message=""):
            return {"action": "terminate", "status": action.status}
    return None
