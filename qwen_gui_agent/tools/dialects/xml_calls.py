"""Finding Qwen3.5's XML tool calls in an answer, and the thinking and device around them.

Qwen3.5 writes a call as ``<tool_call><function=computer_use><parameter=action>
left_click</parameter><parameter=coordinate>[500, 300]</parameter></function>
</tool_call>`` (transformers' response parser for qwen3_5 reads the same form).
A value is JSON where it looks like JSON (arrays, objects, numbers) and text
otherwise; one newline on each side of a value belongs to the markup. Thinking
models put ``<think>...</think>`` first: it is the thought, and what it holds is
never read as a call. Scanning is linear (``str.find``), with the same bounds as
the JSON calls.
"""

from __future__ import annotations

import re

from ..actions import DeviceKind
from ..errors import ActionParseError
from ..lenient import loads_lenient_json
from .tool_calls import MAX_CALLS, ToolCall, json_shape_problem


def xml_call_example(function: str) -> str:
    """One call in Qwen3.5's XML form, as the prompt shows it."""
    action = "left_click" if function == "computer_use" else "click"
    return (
        f"<tool_call>\n<function={function}>\n<parameter=action>\n{action}\n</parameter>\n"
        "<parameter=coordinate>\n[500, 300]\n</parameter>\n</function>\n</tool_call>"
    )


EXPECTED_XML_CALL = xml_call_example("computer_use")
_FUNCTION = re.compile(r"<function=\s*([^>\n]{1,80}?)\s*>")
_PARAMETER = re.compile(r"<parameter=\s*([^>\n]{1,80}?)\s*>")
_NUMBER = re.compile(r"[-+]?\d{1,12}(?:\.\d{1,12})?")
_PARAMETER_CLOSE = "</parameter>"
_FUNCTION_CLOSE = "</function>"
MAX_PARAMETERS = 16
# Which function names which kind of device, in both call forms.
_DEVICE_NAMES = re.compile(r"""(?:["']name["']\s*:\s*["']|<function=\s*)(computer_use|mobile_use)\b""")


def split_thinking(answer: str) -> tuple[str, str]:
    """(thinking, the rest): the text up to the last ``</think>`` is thinking (its ``<think>`` may be in the prompt)."""
    head, marker, tail = answer.rpartition("</think>")
    if not marker:
        return "", answer
    return head.replace("<think>", "").strip(), tail


def find_xml_calls(answer: str) -> tuple[list[ToolCall], str] | None:
    """The XML calls in ``answer`` and the text before the first, or None when it holds none."""
    starts = list(_FUNCTION.finditer(answer))
    if not starts:
        return None
    if len(starts) > MAX_CALLS:
        raise ActionParseError(f"more than {MAX_CALLS} calls in one answer", expected=EXPECTED_XML_CALL)
    calls = []
    for index, start in enumerate(starts):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(answer)
        body = answer[start.end() : end]
        close = body.find(_FUNCTION_CLOSE)
        calls.append(ToolCall(start.group(1), _parameters(body if close == -1 else body[:close])))
    thought = answer[: starts[0].start()]
    thought = thought[: thought.rfind("<tool_call>")] if "<tool_call>" in thought else thought
    return calls, thought.strip()


def _parameters(body: str) -> dict[str, object]:
    values: dict[str, object] = {}
    position = 0
    while (opening := _PARAMETER.search(body, position)) is not None:
        if len(values) >= MAX_PARAMETERS:
            raise ActionParseError(f"more than {MAX_PARAMETERS} parameters in one call", expected=EXPECTED_XML_CALL)
        close = body.find(_PARAMETER_CLOSE, opening.end())
        following = _PARAMETER.search(body, opening.end())
        if close != -1 and (following is None or close < following.start()):
            end, position = close, close + len(_PARAMETER_CLOSE)
        else:  # the closing tag is missing: the value runs to the next parameter
            end = position = following.start() if following is not None else len(body)
        values[opening.group(1)] = xml_value(body[opening.end() : end])
    return values


def xml_value(raw: str) -> object:
    """A parameter's value: JSON for arrays, objects and numbers, else the text (one newline of markup off each end)."""
    text = raw[1:] if raw.startswith("\n") else raw
    text = text[:-1] if text.endswith("\n") else text
    stripped = text.strip()
    value: object = text
    if stripped[:1] in ("[", "{"):
        try:
            value = loads_lenient_json(stripped)
        except (ValueError, RecursionError):
            return stripped  # a point such as "[1, 2" is still readable by the point parser's error path
    elif _NUMBER.fullmatch(stripped):
        try:
            value = float(stripped) if "." in stripped else int(stripped)
        except ValueError:  # digits past Python's int conversion limit
            raise ActionParseError(f"a parameter holds a number of {len(stripped)} digits") from None
    problem = json_shape_problem(value)  # the same bounds as a JSON call: no huge number, no deep nesting
    if problem:
        raise ActionParseError(f"a parameter's value {problem}", excerpt=stripped[:80])
    return value


def device_named(answer: str) -> DeviceKind | None:
    """The kind of device an answer's tool calls are for: ``mobile`` when they name only ``mobile_use``,
    ``computer`` when only ``computer_use``, None when neither or both."""
    names = set(_DEVICE_NAMES.findall(answer))
    if names == {"mobile_use"}:
        return "mobile"
    if names == {"computer_use"}:
        return "computer"
    return None
