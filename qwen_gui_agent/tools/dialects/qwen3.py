"""Dialects of the Qwen3 generation: ``qwen3`` (Qwen3-VL), ``qwen3.5`` (Qwen3.5) and ``guiowl`` (GUI-Owl-1.5).

Prompted like ``qwen`` (a ``# Tools`` section with the function inside
``<tools></tools>``, the task and the numbered history in the user turn), with
this generation's functions (``qwen3_schema``), points in thousandths of the
screen by default, and the answer shape their own prompts ask for: a short
``Thought:`` and ``Action:`` in prose, then one call. Qwen3.5 writes the call
as XML (``<function=...><parameter=...>``), the others as JSON. Each parser
reads all three call forms and UI-TARS answers (models drift); a thinking
model's ``<think>`` part becomes the thought and is never read for calls.
"""

from __future__ import annotations

import json
from dataclasses import replace

from ..actions import Action, DeviceKind
from ..canonical import format_action
from ..errors import ActionParseError
from ..frames import RELATIVE_SCALE, ModelFrame
from ..messages import Message
from . import qwen3_schema
from .base import DialectInfo, ParsedAnswer, check_answer_size
from .qwen import QwenDialect, tool_calls_else_uitars
from .qwen3_schema import GUI_OWL, QWEN3_5, QWEN3_VL, Qwen3Variant
from .qwen_schema import FUNCTION_NAMES
from .tool_calls import CLOSE_TAG, EXPECTED_CALL, OPEN_TAG, find_tool_calls
from .xml_calls import EXPECTED_XML_CALL, find_xml_calls, split_thinking, xml_call_example


class Qwen3Dialect(QwenDialect):
    info = DialectInfo(name="qwen3", default_image_history=1, aliases=("qwen3-vl", "qwen3vl"))
    variant: Qwen3Variant = QWEN3_VL
    default_coordinates = "relative"
    relative_scale = QWEN3_VL.relative_scale

    # ------------------------------------------------------------------ prompt

    def system_prompt(self, device: DeviceKind, frame: ModelFrame) -> str:
        schema = json.dumps(qwen3_schema.function_schema(self.variant, device, frame), ensure_ascii=False)
        return "\n".join(
            [
                "You are a helpful assistant that operates a device for the user.",
                "",
                "# Tools",
                "",
                "You can call the function below, once or several times, to act on the device.",
                "",
                "Its signature, as JSON, is inside the <tools></tools> tags:",
                "<tools>",
                schema,
                "</tools>",
                "",
                *self.call_instructions(device),
                "",
                "# Response format",
                "",
                *self.response_format(),
            ]
        )

    def call_instructions(self, device: DeviceKind) -> list[str]:
        if self.variant.call_format == "xml":
            return [
                "Write every call as XML: the function's name in <function=...>, each argument in its own "
                "<parameter=...> (lists as JSON), all between <tool_call></tool_call> tags:",
                xml_call_example(FUNCTION_NAMES[device]),
            ]
        return [
            "Write every call as a JSON object with the function's name and its arguments, between "
            "<tool_call></tool_call> tags:",
            OPEN_TAG,
            '{"name": <function-name>, "arguments": <args-json-object>}',
            CLOSE_TAG,
        ]

    def response_format(self) -> list[str]:
        lines = ["Answer every step in this order and with nothing else:"]
        if self.variant.thought_first:
            lines.append("Thought: one sentence on what the screen shows and what to do next.")
        lines += [
            "Action: one short sentence saying what you do, in plain words.",
            "Then exactly one <tool_call>...</tool_call> block with the call.",
        ]
        return lines

    def format_call(self, action: Action, device: DeviceKind) -> str:
        """An earlier step as the call the model would have written (canonical text where the function lacks it)."""
        arguments = qwen3_schema.qwen3_arguments(action, device)
        if arguments is None:
            return format_action(action)
        name = FUNCTION_NAMES[device]
        if self.variant.call_format == "xml":
            # One newline of markup on each side of a value, as Qwen3.5's template writes them.
            parts = "".join(
                f"<parameter={key}>\n{value if isinstance(value, str) else json.dumps(value)}\n</parameter>\n"
                for key, value in arguments.items()
            )
            return f"<function={name}>\n{parts}</function>"
        return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)

    # ------------------------------------------------------------------ parsing

    def parse(self, answer: str, frame: ModelFrame) -> ParsedAnswer:
        check_answer_size(answer, self.expected_call())
        thinking, rest = split_thinking(answer)
        parsed = tool_calls_else_uitars(parse_qwen3_answer, rest, frame)
        if parsed is None:
            raise ActionParseError(
                "no <tool_call> found in the answer", excerpt=rest or answer, expected=self.expected_call()
            )
        if thinking:
            parsed = ParsedAnswer(actions=parsed.actions, thought=f"{thinking}\n{parsed.thought}".strip())
        return parsed

    def expected_call(self) -> str:
        return EXPECTED_XML_CALL if self.variant.call_format == "xml" else EXPECTED_CALL

    # ------------------------------------------------------------------ grounding

    def grounding_messages(self, query: str, screenshot, frame: ModelFrame) -> list[Message]:
        if not frame.relative:
            return super().grounding_messages(query, screenshot, frame)
        prompt = (
            f"Find this on the screenshot: {query}\n"
            f"Give its box in thousandths of the image (0 is the left or top edge, {RELATIVE_SCALE} the right or bottom). "
            'Answer with JSON only, in this form: [{"bbox_2d": [x1, y1, x2, y2], "label": "<what you found>"}]'
        )
        return [Message("user", (screenshot, prompt))]

    def grounding_frame(self, frame: ModelFrame) -> ModelFrame:
        """Boxes in thousandths read over 1000 (the prompt above says so), whatever the action calls' scale.

        Qwen3-VL's own grounding material reads ``bbox_2d`` and ``point_2d`` over 1000 (its cookbooks and its
        ODinW-13 evaluation), while its agent prompts put tool calls on a 999x999 screen (docs/models.md).
        """
        return replace(frame, relative_scale=RELATIVE_SCALE) if frame.relative else frame


class Qwen35Dialect(Qwen3Dialect):
    info = DialectInfo(name="qwen3.5", default_image_history=1, aliases=("qwen35", "qwen3_5"))
    variant = QWEN3_5
    relative_scale = QWEN3_5.relative_scale


class GuiOwlDialect(Qwen3Dialect):
    info = DialectInfo(name="guiowl", default_image_history=1, aliases=("gui-owl", "gui-owl-1.5", "gui_owl"))
    variant = GUI_OWL
    relative_scale = GUI_OWL.relative_scale


def parse_qwen3_answer(answer: str, frame: ModelFrame) -> ParsedAnswer | None:
    """The thought and actions of an answer's calls, XML or JSON; None when it holds neither."""
    found = find_xml_calls(answer) or find_tool_calls(answer)
    if found is None:
        return None
    calls, thought = found
    actions = tuple(qwen3_schema.action_from_arguments(call.function, call.arguments, frame) for call in calls)
    return ParsedAnswer(actions=actions, thought=thought)
