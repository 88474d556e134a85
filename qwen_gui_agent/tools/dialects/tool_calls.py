"""Finding Qwen ``<tool_call>`` JSON in a model's answer.

Models wrap the same call many ways: with or without the closing tag, inside
markdown fences, with prose around it, several calls in a row, or as a bare
JSON object. This module only finds the calls (and, for grounding answers,
JSON values in free text); turning their arguments into actions is
``qwen_schema``'s job. JSON is read with ``json`` only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ActionParseError
from ..lenient import loads_lenient_json

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
EXPECTED_CALL = (
    '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [x, y]}}</tool_call>'
)

_FENCE = re.compile(r"```[A-Za-z]*")
MAX_CALLS = 16  # more calls than this in one answer is a runaway generation
# A call is 3 levels deep ({"arguments": {"coordinate": [x, y]}}), a grounding list 3 too; and no screen
# needs a number past 10**15. Deeper or larger JSON is a runaway answer that would break what reads it
# (repr and float() of such values raise RecursionError and OverflowError).
MAX_JSON_DEPTH = 16
MAX_JSON_INT = 10**15
_TOO_DEEP = f"is nested more than {MAX_JSON_DEPTH} levels deep"
_MAX_BARE_OBJECTS = 16  # a bare answer is tried at this many '{' at most: keeps adversarial text fast
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ToolCall:
    function: str  # "computer_use", "mobile_use", or "" when the answer gave arguments only
    arguments: dict[str, object]


def strip_fences(answer: str) -> str:
    """The answer without its markdown fence markers (```json ... ```), which only wrap the content."""
    return _FENCE.sub("", answer)


def json_values(text: str, openers: str, limit: int) -> Iterator[tuple[int, object]]:
    """(start, value) of each JSON value in ``text`` that begins with one of ``openers``, left to right.

    At most ``limit`` starts are tried: that bound keeps adversarial text fast.
    """
    position = _next_opener(text, openers, 0)
    for _ in range(limit):
        if position == -1:
            return
        try:
            value, end = _DECODER.raw_decode(text, position)
        except RecursionError:  # JSON nested past the interpreter's stack: a runaway, not a value to skip
            raise ActionParseError(f"the JSON in the answer {_TOO_DEEP}", expected=EXPECTED_CALL) from None
        except ValueError:  # not JSON here: look from the next character
            end = position + 1
        else:
            problem = json_shape_problem(value)
            if problem:
                raise ActionParseError(f"the JSON in the answer {problem}", expected=EXPECTED_CALL)
            yield position, value
        position = _next_opener(text, openers, end)


def _next_opener(text: str, openers: str, start: int) -> int:
    return min((i for i in (text.find(opener, start) for opener in openers) if i != -1), default=-1)


def find_tool_calls(answer: str) -> tuple[list[ToolCall], str] | None:
    """The calls in ``answer`` and the text before them, or None when it holds no JSON call at all."""
    text = strip_fences(answer)
    if OPEN_TAG in text:
        thought, _, _ = text.partition(OPEN_TAG)
        chunks = text.split(OPEN_TAG)[1:]
        if len(chunks) > MAX_CALLS:
            raise ActionParseError(f"more than {MAX_CALLS} calls in one answer", expected=EXPECTED_CALL)
        return [_call_from_object(_decode_after_tag(chunk)) for chunk in chunks], thought.strip()
    calls, thought = _bare_objects(text)
    return (calls, thought) if calls else None


def _decode_after_tag(chunk: str) -> object:
    body = chunk.split(CLOSE_TAG, 1)[0].strip()
    if not body.startswith("{"):
        raise ActionParseError("a <tool_call> must hold one JSON object", excerpt=body, expected=EXPECTED_CALL)
    value, problem = _decode(body, 0)
    if problem:  # single quotes or a trailing comma are slips Qwen-Agent forgives: so do we, and nothing more
        value, problem = _decode_lenient(body, problem)
    if problem:
        raise ActionParseError(
            f"the JSON inside <tool_call> is broken ({problem})", excerpt=body, expected=EXPECTED_CALL
        )
    return value


def _decode(text: str, start: int) -> tuple[object, str]:
    """(value, "") or (None, what went wrong)."""
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as error:
        return None, error.msg
    except RecursionError:
        return None, _TOO_DEEP
    except ValueError as error:  # digits beyond int limits
        return None, str(error)[:100]
    return value, json_shape_problem(value)


def json_shape_problem(value: object) -> str:
    """What makes a decoded JSON value unusable (too deep, a number too large), or "".

    Walked with a stack, not recursion, so the check itself cannot overflow.
    """
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            if depth > MAX_JSON_DEPTH:
                return _TOO_DEEP
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_JSON_INT:
            return f"holds a number of {len(str(abs(item)))} digits"
    return ""


def _decode_lenient(text: str, problem: str) -> tuple[object, str]:
    """(value, "") when ``text`` is JSON but for single quotes or trailing commas, else (None, ``problem``)."""
    try:
        value = loads_lenient_json(text)
    except ValueError:
        return None, problem
    except RecursionError:
        return None, _TOO_DEEP
    return value, json_shape_problem(value)  # forgiven quotes do not excuse a huge number or deep nesting


def _bare_objects(text: str) -> tuple[list[ToolCall], str]:
    """JSON objects written without tags that look like calls."""
    calls: list[ToolCall] = []
    thought = ""
    for position, value in json_values(text, "{", _MAX_BARE_OBJECTS):
        if isinstance(value, dict) and ("arguments" in value or "action" in value):
            if not calls:
                thought = text[:position].strip()
            calls.append(_call_from_object(value))
    return calls, thought


def _call_from_object(value: object) -> ToolCall:
    if not isinstance(value, dict):
        raise ActionParseError("a tool call must be a JSON object", expected=EXPECTED_CALL)
    if "arguments" not in value:
        if "action" in value:  # the arguments alone
            return ToolCall("", value)
        raise ActionParseError('the tool call has no "arguments"', expected=EXPECTED_CALL)
    name = value.get("name", "")
    arguments = value["arguments"]
    if isinstance(arguments, str):  # OpenAI-style servers send arguments as a JSON string
        arguments, problem = _decode(arguments.strip(), 0) if arguments.strip().startswith("{") else (None, "not JSON")
        if problem:
            raise ActionParseError(f"the call's arguments are not a JSON object ({problem})", expected=EXPECTED_CALL)
    if not isinstance(arguments, dict) or not isinstance(name, str):
        raise ActionParseError('"arguments" must be a JSON object and "name" a string', expected=EXPECTED_CALL)
    if name not in ("computer_use", "mobile_use", "") and "action" not in arguments:
        # {"name": "left_click", "arguments": {"coordinate": [...]}}: the action was put in the name.
        return ToolCall("", {"action": name, **arguments})
    return ToolCall(name, arguments)
