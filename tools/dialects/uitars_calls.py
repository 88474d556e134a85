"""Reading UI-TARS style answers: ``Thought: ...`` then ``Action: call(...)``.

The strict path is the canonical one (``ast`` syntax, ``ast.literal_eval``
values). When that fails, a lenient reader handles the breakages models
really produce: a quote left unescaped inside ``content``, a literal newline
inside it, an unquoted ``<point>`` value, prose after the call. Nothing here
executes model text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tools.actions import ACTION_TYPES, Action, Point
from tools.canonical import ACTION_NAME_ALIASES, CANONICAL_FORMS, action_from_call, parse_call, parse_point
from tools.errors import ActionParseError
from tools.frames import ModelFrame

EXPECTED_ANSWER = "Thought: <your reasoning>\nAction: click(start_box='(x,y)')"

# Every name a call may start with: ours and the other dialects' (UI-TARS, Qwen, older UI-TARS).
KNOWN_NAMES = frozenset(ACTION_TYPES) | frozenset(ACTION_NAME_ALIASES)
KNOWN_ARGUMENTS = frozenset({
    "start_box", "end_box", "point", "start_point", "end_point", "coordinate", "coordinate2", "content", "text",
    "message", "question", "key", "keys", "hotkey", "app_name", "package", "name", "app", "direction", "amount",
    "duration", "seconds", "time", "status",
})

_LABEL = re.compile(r"^[ \t]*(Thought|Reflection|Action_Summary|Action)[ \t]*[:：]", re.MULTILINE)
_CALL_HEAD = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(", re.MULTILINE)
_ARGUMENT_HEAD = re.compile(r"(?:^|,)\s*([A-Za-z_]\w*)\s*=\s*")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class UITarsAnswer:
    thought: str
    calls: tuple[str, ...]  # the text of each call, in order


def read_answer(answer: str) -> UITarsAnswer | None:
    """Split an answer into its thought and call texts; None when it holds no call at all."""
    sections = _sections(answer)
    body = sections.get("Action", answer if not sections else "")
    calls = _split_calls(body)
    if not calls:
        return None
    thought = sections.get("Thought") or sections.get("Action_Summary") or sections.get("Reflection") or ""
    return UITarsAnswer(thought=thought, calls=tuple(calls))


def _sections(answer: str) -> dict[str, str]:
    """Labelled sections; a label seen twice keeps its last text (an echoed prompt comes first)."""
    marks = list(_LABEL.finditer(answer))
    sections: dict[str, str] = {}
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(answer)
        sections[mark.group(1)] = answer[mark.end():end].strip()
    return sections


def _split_calls(body: str) -> list[str]:
    """One text per call: each starts at a line that begins with a known action name and '('."""
    starts = [m.start() for m in _CALL_HEAD.finditer(body) if m.group(1).lower() in KNOWN_NAMES]
    if not starts:
        head = _CALL_HEAD.search(body)  # an unknown name still deserves a precise error
        return [body.strip()] if head else []
    if body[: starts[0]].strip():  # prose before the first call on the same "Action:" line
        leading = _CALL_HEAD.search(body)
        starts[0] = leading.start() if leading and leading.start() < starts[0] else starts[0]
    ends = starts[1:] + [len(body)]
    return [body[start:end].strip() for start, end in zip(starts, ends) if body[start:end].strip()]


def action_from_text(call: str, frame: ModelFrame) -> Action:
    """One call's text -> an action in the model frame, every point checked against ``frame``."""

    def point_reader(value: object) -> Point:
        point = parse_point(value)
        frame.check(point)
        return point

    name, kwargs = _read_call(call)
    return action_from_call(name, kwargs, point_reader=point_reader)


def _read_call(call: str) -> tuple[str, dict[str, object]]:
    end = _closing_paren(call)
    strict_text = call[: end + 1] if end is not None else call
    try:
        return parse_call(strict_text)
    except ActionParseError as strict_error:
        lenient = _lenient_call(call)
        if lenient is None:
            raise strict_error from None
        return lenient


def _closing_paren(call: str) -> int | None:
    """Index of the ')' closing the call, honouring quotes and escapes; None if unbalanced."""
    depth = 0
    quote = ""
    escaped = False
    for index, char in enumerate(call):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _lenient_call(call: str) -> tuple[str, dict[str, object]] | None:
    """Read ``name(key='value', ...)`` where the values may hold raw quotes and newlines."""
    head = _CALL_HEAD.match(call)
    closing = call.rfind(")")
    if head is None or closing < head.end():
        return None
    body = call[head.end():closing]
    heads = [m for m in _ARGUMENT_HEAD.finditer(body) if m.group(1).lower() in KNOWN_ARGUMENTS]
    if not heads and body.strip():
        return None
    kwargs: dict[str, object] = {}
    for name, start, end in _value_bounds(body, heads):
        value = _lenient_value(body[start:end].strip())
        if value is None:
            return None
        kwargs[name] = value
    return head.group(1), kwargs


def _value_bounds(body: str, heads: list[re.Match[str]]) -> list[tuple[str, int, int]]:
    """(name, start, end) of each value: a value runs to the next argument's head, but a head
    that sits inside a quoted value not yet closed belongs to that value."""
    accepted: list[re.Match[str]] = []
    for candidate in heads:
        if accepted:
            previous_value = body[accepted[-1].end(): candidate.start()].rstrip()
            opener = previous_value[:1]
            if opener in "'\"" and not (len(previous_value) > 1 and previous_value.endswith(opener)):
                continue  # this "key=" sits inside the previous quoted value
        accepted.append(candidate)
    ends = [m.start() for m in accepted[1:]] + [len(body)]
    return [(m.group(1), m.end(), end) for m, end in zip(accepted, ends)]


def _lenient_value(raw: str) -> object | None:
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0]:
        return _unescape(raw[1:-1])
    if _NUMBER.fullmatch(raw):
        return float(raw)
    if raw and raw[0] not in "'\"":
        return raw  # an unquoted point such as <point>10 20</point> or (10,20)
    return None


def _unescape(text: str) -> str:
    """Undo the escapes the prompt asks for; unknown escapes stay as written."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in _ESCAPES:
            out.append(_ESCAPES[text[index + 1]])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def parse_calls(answer: UITarsAnswer, frame: ModelFrame) -> tuple[Action, ...]:
    return tuple(action_from_text(call, frame) for call in answer.calls)


def no_call_error(answer: str) -> ActionParseError:
    if _LABEL.search(answer):
        return ActionParseError("the Action part holds no call", excerpt=answer[-200:], expected=EXPECTED_ANSWER)
    return ActionParseError(
        "no action found in the answer", excerpt=answer[:200],
        expected=EXPECTED_ANSWER + "; actions: " + ", ".join(CANONICAL_FORMS[:6]) + ", ...",
    )

