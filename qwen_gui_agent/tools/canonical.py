"""The canonical text form of actions: UI-TARS style function calls.

``click(start_box='(512,384)')``, ``type(content='hello\\n')``, ``hotkey(key='ctrl c')``.
Used in logs, trajectories, task YAMLs and the CLI. ``format_action`` and
``parse_action`` are exact inverses: every action's text parses back to an
equal action, for any Unicode text.

Parsing reads the call with ``ast.parse`` (syntax only) and takes argument
values with ``ast.literal_eval``: model or user text is never executed.
The action and argument names it accepts (ours and other dialects') are in ``vocabulary``.
"""

from __future__ import annotations

import ast
import math
import re
import warnings
from collections.abc import Callable, Mapping

from pydantic import ValidationError

from .actions import (
    ACTION_TYPES,
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
    RightClick,
    Scroll,
    Swipe,
    TripleClick,
    Type,
    Wait,
    action_adapter,
)
from .errors import ActionParseError
from .lenient import unwrap_point_text
from .vocabulary import ACTION_NAME_ALIASES, ARGUMENT_ALIASES, CANONICAL_FORMS

MAX_ACTION_TEXT = 20_000  # longer "actions" are garbage; bounding keeps parsing fast
# Characters of a call outside its quoted values (names, '=', ',', numbers, brackets). A real call has a
# few dozen; thousands (`1+1+1+...`) only make ast.parse build a tree thousands of levels deep.
MAX_CALL_CODE = 500

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_POINT_PATTERNS = (
    re.compile(rf"<point>\s*({_NUMBER})[\s,]+({_NUMBER})\s*</point>"),
    re.compile(rf"<bbox>\s*({_NUMBER})[\s,]+({_NUMBER})[\s,]+({_NUMBER})[\s,]+({_NUMBER})\s*</bbox>"),
    re.compile(rf"^[\[(]?\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*,\s*({_NUMBER})\s*[\])]?$"),
    re.compile(rf"^[\[(]?\s*({_NUMBER})\s*[,\s]\s*({_NUMBER})\s*[\])]?$"),
)
_BOX_TOKENS = re.compile(r"<\|box_(?:start|end)\|>")

_POINT_FORMS = "'(x,y)', '<|box_start|>(x,y)<|box_end|>', '[x1,y1,x2,y2]' or '<point>x y</point>'"


# ----------------------------------------------------------------------------- formatting


def quote(text: str) -> str:
    """A single-quoted literal that ``ast.literal_eval`` reads back to ``text``."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return "'" + "".join(out) + "'"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _box(point: Point) -> str:
    return quote(f"({point.x},{point.y})")


def format_action(action: Action) -> str:
    """The canonical text of an action; defaults are left out."""
    args: list[str] = []
    defaults = type(action).model_fields

    def extra(field: str, keyword: str) -> None:
        value = getattr(action, field)
        if value != defaults[field].default:
            args.append(f"{keyword}={quote(value) if isinstance(value, str) else _number(value)}")

    match action:
        case Click() | DoubleClick() | TripleClick() | RightClick() | MiddleClick() | Move():
            args.append(f"start_box={_box(action.point)}")
        case LongPress():
            args.append(f"start_box={_box(action.point)}")
            extra("duration", "duration")
        case Drag() | Swipe():
            if action.start is not None:
                args.append(f"start_box={_box(action.start)}")
            args.append(f"end_box={_box(action.end)}")
            extra("duration", "duration")
        case Scroll():
            if action.point is not None:
                args.append(f"start_box={_box(action.point)}")
            args.append(f"direction={quote(action.direction)}")
            extra("amount", "amount")
        case Type():
            content = action.text + ("\n" if action.submit else "")
            args.append(f"content={quote(content)}")
        case Hotkey():
            args.append(f"key={quote(' '.join(action.keys))}")
        case OpenApp():
            args.append(f"app_name={quote(action.name)}")
        case Wait():
            extra("seconds", "seconds")
        case Finished():
            args.append(f"content={quote(action.message)}")
            extra("status", "status")
        case Answer():
            args.append(f"content={quote(action.text)}")
        case CallUser():
            args.append(f"content={quote(action.question)}")
    return f"{action.action}({', '.join(args)})"


# ----------------------------------------------------------------------------- parsing


def parse_point(value: object) -> Point:
    """Read a point in any form models use; a box gives its centre."""
    if isinstance(value, (list, tuple)) and len(value) in (2, 4):
        numbers = [_finite(v) for v in value]
    elif isinstance(value, str):
        numbers = _numbers_in_point_text(value)
    else:
        raise ActionParseError(f"a point must be text or a list of numbers, got {brief(value)}", expected=_POINT_FORMS)
    if len(numbers) == 4:
        x1, y1, x2, y2 = numbers
        numbers = [(x1 + x2) / 2, (y1 + y2) / 2]
    x, y = numbers
    return Point(x=_to_int(x), y=_to_int(y))


def _numbers_in_point_text(text: str) -> list[float]:
    cleaned = unwrap_point_text(_BOX_TOKENS.sub("", text))  # '((x,y))' is a slip for '(x,y)'
    for pattern in _POINT_PATTERNS:
        match = pattern.search(cleaned) if cleaned.startswith("<") else pattern.match(cleaned)
        if match:
            return [_finite(group) for group in match.groups()]
    raise ActionParseError(f"cannot read a point from {text[:80]!r}", expected=_POINT_FORMS)


def _finite(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ActionParseError(f"{brief(value)} is not a number", expected=_POINT_FORMS)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ActionParseError(f"{brief(value)} is not a number", expected=_POINT_FORMS) from None
    if not math.isfinite(number) or abs(number) > 1e7:
        raise ActionParseError(f"coordinate {brief(value)} is not a usable number", expected=_POINT_FORMS)
    return number


def brief(value: object, limit: int = 80) -> str:
    """A short description of a model-given value for an error message.

    Never the full ``repr``: of a list nested 1,000 deep it raises RecursionError, of a 5,000-digit
    integer ValueError, and of a long text it floods the feedback.
    """
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**limit:
        return f"a number of more than {limit} digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_int(number: float) -> int:
    return math.floor(number + 0.5)  # half up: 10.5 -> 11 whatever the parity


def code_length(text: str) -> int:
    """Characters of ``text`` outside quoted literals (a quote that never closes runs to the end); one pass."""
    length = 0
    quote_char = ""
    escaped = False
    for char in text:
        if quote_char:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote_char:
                quote_char = ""
        elif char in "'\"":
            quote_char = char
        else:
            length += 1
    return length


def parse_call(text: str) -> tuple[str, dict[str, object]]:
    """Split ``name(k='v', ...)`` into its name and literal keyword values."""
    text = text.strip()
    if len(text) > MAX_ACTION_TEXT:
        raise ActionParseError("the action text is too long", expected="one call such as " + CANONICAL_FORMS[0])
    if len(text) > MAX_CALL_CODE and code_length(text) > MAX_CALL_CODE:
        raise ActionParseError(
            f"the call has more than {MAX_CALL_CODE} characters outside its quoted values",
            excerpt=text,
            expected="one call such as " + CANONICAL_FORMS[0],
        )
    try:
        with warnings.catch_warnings():  # model text is not our code: its odd escapes are not our warnings
            warnings.simplefilter("ignore")
            node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        raise ActionParseError(
            f"not a function call ({type(error).__name__})",
            excerpt=text,
            expected="one call such as " + CANONICAL_FORMS[0],
        ) from None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ActionParseError("not a function call", excerpt=text, expected="one call such as " + CANONICAL_FORMS[0])
    if node.args or any(kw.arg is None for kw in node.keywords):
        raise ActionParseError("arguments must be given by name", excerpt=text, expected="click(start_box='(x,y)')")
    kwargs: dict[str, object] = {}
    for keyword in node.keywords:
        assert keyword.arg is not None  # a `**mapping` keyword (arg None) was refused just above
        try:
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ActionParseError(
                f"argument {keyword.arg} is not a literal value",
                excerpt=text,
                expected="quoted text or numbers, e.g. content='hello'",
            ) from None
    return node.func.id, kwargs


def canonical_name(name: str) -> str:
    """Our action name for a name any dialect uses, or raise."""
    folded = name.strip().lower()
    folded = ACTION_NAME_ALIASES.get(folded, folded)
    if folded not in ACTION_TYPES:
        raise ActionParseError(f"unknown action {name!r}", expected="one of: " + ", ".join(CANONICAL_FORMS))
    return folded


def action_from_call(
    name: str, kwargs: Mapping[str, object], *, point_reader: Callable[[object], Point] = parse_point
) -> Action:
    """Build an action from a call's name and arguments, accepting other dialects' spellings."""
    kind = canonical_name(name)
    args: dict[str, object] = {}
    for key, value in kwargs.items():
        slot = ARGUMENT_ALIASES.get(key.lower())
        if slot is None:
            raise ActionParseError(f"{kind} takes no argument {key!r}", expected=_form_of(kind))
        args[slot] = value
    fields = _fields_for(kind, args, point_reader)
    try:
        return action_adapter.validate_python({"action": kind, **fields})
    except ValidationError as error:
        raise invalid_arguments(kind, error, expected=_form_of(kind)) from None


def invalid_arguments(kind: str, error: ValidationError, *, expected: str = "") -> ActionParseError:
    """One clean ActionParseError for arguments an action model rejected.

    A validator that raised ActionParseError itself (an unknown key name) already
    says what is wrong in the model's terms: pass it on as it is rather than
    nesting its feedback inside pydantic's "Value error, ..." text.
    """
    for detail in error.errors():
        inner = detail.get("ctx", {}).get("error")
        if isinstance(inner, ActionParseError):
            return ActionParseError(inner.problem, expected=inner.expected or expected, excerpt=inner.excerpt)
    problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or kind}: {e['msg']}" for e in error.errors())
    return ActionParseError(f"bad arguments for {kind}: {problems}", expected=expected)


def _form_of(kind: str) -> str:
    return next((form for form in CANONICAL_FORMS if form.startswith(kind + "(")), ", ".join(CANONICAL_FORMS))


def _need(args: dict[str, object], slot: str, kind: str) -> object:
    if args.get(slot) in (None, ""):
        raise ActionParseError(f"{kind} needs its {slot} argument", expected=_form_of(kind))
    return args[slot]


def _fields_for(kind: str, args: dict[str, object], point_reader: Callable[[object], Point]) -> dict[str, object]:
    fields: dict[str, object] = {}
    if kind in ("click", "double_click", "triple_click", "right_click", "middle_click", "move", "long_press"):
        fields["point"] = point_reader(_need(args, "start", kind))
    elif kind in ("drag", "swipe"):
        if kind == "swipe" or args.get("start") not in (None, ""):
            fields["start"] = point_reader(_need(args, "start", kind))
        fields["end"] = point_reader(_need(args, "end", kind))
    elif kind == "scroll":
        if args.get("start") not in (None, ""):
            fields["point"] = point_reader(args["start"])
        fields["direction"] = str(_need(args, "direction", kind)).strip().lower()
    elif kind == "type":
        fields["text"] = args.get("content", "")
    elif kind == "hotkey":
        fields["keys"] = _need(args, "key", kind)
    elif kind == "open_app":
        fields["name"] = _need(args, "app", kind)
    elif kind == "finished":
        fields["message"] = args.get("content") or ""
    elif kind == "answer":
        fields["text"] = args.get("content") or ""
    elif kind == "call_user":
        fields["question"] = args.get("content") or ""
    for optional in ("duration", "amount", "seconds", "status"):
        if args.get(optional) is not None and optional in ACTION_TYPES[kind].model_fields:
            fields[optional] = args[optional]
    return fields


def parse_action(text: str) -> Action:
    """Parse one action in canonical text (aliases of other dialects accepted)."""
    name, kwargs = parse_call(text)
    return action_from_call(name, kwargs)
