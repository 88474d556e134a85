"""Reading UI-TARS style answers: ``Thought: ...`` then ``Action: call(...)``.

The strict path is the canonical one (``ast`` syntax, ``ast.literal_eval``
values). When that fails, a lenient reader handles the breakages models
really produce: a quote left unescaped inside ``content``, a literal newline
inside it, an unquoted ``<point>`` value, prose after the call. Nothing here
executes model text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from ..actions import ACTION_TYPES, Action
from ..canonical import action_from_call, parse_call
from ..errors import ActionParseError
from ..frames import ModelFrame, read_point
from ..vocabulary import ACTION_NAME_ALIASES, ARGUMENT_ALIASES, CANONICAL_FORMS
from .base import ParsedAnswer

EXPECTED_ANSWER = "Thought: <your reasoning>\nAction: click(start_box='(x,y)')"

# Every name a call may start with: ours and the other dialects' (UI-TARS, Qwen, older UI-TARS).
KNOWN_NAMES = frozenset(ACTION_TYPES) | frozenset(ACTION_NAME_ALIASES)
KNOWN_ARGUMENTS = frozenset(ARGUMENT_ALIASES)  # every argument name action_from_call accepts

_LABEL = re.compile(r"^[ \t]*(Thought|Reflection|Action_Summary|Action)[ \t]*[:：]", re.MULTILINE)
_CALL_HEAD = re.compile(r"^[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(", re.MULTILINE)
_ARGUMENT_HEAD = re.compile(r"(?:^|,)\s*([A-Za-z_]\w*)\s*=\s*")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
# Quoted strings (skipped whole), a lone quote that never closes, and parentheses.
_PAREN_TOKENS = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|['"]|[()]""", re.DOTALL)
MAX_ACTIONS = 16  # more calls than this in one answer is a runaway generation
_MAX_LENIENT_ARGUMENTS = 12  # the lenient reader repairs real calls, not argument soups
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class UITarsAnswer:
    thought: str
    calls: tuple[str, ...]  # the text of each call, in order


def read_answer(answer: str) -> UITarsAnswer | None:
    """Split an answer into its thought and call texts; None when it holds no call at all."""
    sections = _sections(answer)
    if not sections:
        body = answer
    else:
        # The Action parts after the last Thought/Reflection/Summary belong to this answer; earlier
        # ones are an echoed prompt or example. "Action: a" + "Action: b" there means two actions.
        last_thought = max((i for i, (label, _) in enumerate(sections) if label != "Action"), default=-1)
        actions = [text for label, text in sections[last_thought + 1 :] if label == "Action"]
        if not actions:
            actions = [text for label, text in sections if label == "Action"][-1:]
        body = "\n\n".join(actions)
    calls = _split_calls(body)
    if not calls:
        return None
    labelled = dict(sections)  # the last text of each label
    thought = labelled.get("Thought") or labelled.get("Action_Summary") or labelled.get("Reflection") or ""
    return UITarsAnswer(thought=thought, calls=tuple(calls))


def _sections(answer: str) -> list[tuple[str, str]]:
    """(label, text) of each labelled section, in order."""
    marks = list(_LABEL.finditer(answer))
    sections: list[tuple[str, str]] = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(answer)
        sections.append((mark.group(1), answer[mark.end() : end].strip()))
    return sections


def _split_calls(body: str) -> list[str]:
    """One text per call: each starts at a line that begins with a known action name and '('."""
    starts = [m.start() for m in _CALL_HEAD.finditer(body) if m.group(1).lower() in KNOWN_NAMES]
    if not starts:
        head = _CALL_HEAD.search(body)  # an unknown name still deserves a precise error
        return [body.strip()] if head else []
    if body[: starts[0]].strip():
        # A call with an unknown name before the first known one is kept, so that it gets a
        # precise "unknown action" error instead of being skipped silently.
        leading = _CALL_HEAD.search(body)
        starts[0] = leading.start() if leading and leading.start() < starts[0] else starts[0]
    if len(starts) > MAX_ACTIONS:
        raise ActionParseError(f"more than {MAX_ACTIONS} actions in one answer", expected=EXPECTED_ANSWER)
    ends = starts[1:] + [len(body)]
    return [body[start:end].strip() for start, end in zip(starts, ends, strict=False) if body[start:end].strip()]


def action_from_text(call: str, frame: ModelFrame) -> Action:
    """One call's text -> an action in the model frame, every point checked against ``frame``."""
    name, kwargs = _read_call(call)
    return action_from_call(name, kwargs, point_reader=functools.partial(read_point, frame=frame))


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
    for token in _PAREN_TOKENS.finditer(call):
        text = token.group()
        if text in ("'", '"'):
            return None  # a quote that never closes: everything after it is inside a string
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return token.start()
    return None


def _lenient_call(call: str) -> tuple[str, dict[str, object]] | None:
    """Read ``name(key='value', ...)`` where the values may hold raw quotes and newlines."""
    head = _CALL_HEAD.match(call)
    closing = call.rfind(")")
    if head is None or closing < head.end():
        return None
    body = call[head.end() : closing]
    heads = [m for m in _ARGUMENT_HEAD.finditer(body) if m.group(1).lower() in KNOWN_ARGUMENTS]
    if (not heads and body.strip()) or len(heads) > _MAX_LENIENT_ARGUMENTS:
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
            start, end = accepted[-1].end(), candidate.start()
            while end > start and body[end - 1].isspace():
                end -= 1
            opener = body[start] if end > start else ""
            if opener in ("'", '"') and not (end - start > 1 and body[end - 1] == opener):
                continue  # this "key=" sits inside the previous quoted value
        accepted.append(candidate)
    ends = [m.start() for m in accepted[1:]] + [len(body)]
    return [(m.group(1), m.end(), end) for m, end in zip(accepted, ends, strict=False)]


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


def parse_uitars_answer(answer: str, frame: ModelFrame) -> ParsedAnswer | None:
    """The thought and actions (model frame) of a ``Thought: / Action:`` answer; None when it holds no call."""
    read = read_answer(answer)
    if read is None:
        return None
    return ParsedAnswer(actions=tuple(action_from_text(call, frame) for call in read.calls), thought=read.thought)


def no_call_error(answer: str) -> ActionParseError:
    if _LABEL.search(answer):
        return ActionParseError("the Action part holds no call", excerpt=answer[-200:], expected=EXPECTED_ANSWER)
    return ActionParseError(
        "no action found in the answer",
        excerpt=answer[:200],
        expected=EXPECTED_ANSWER + "; actions: " + ", ".join(CANONICAL_FORMS[:6]) + ", ...",
    )
