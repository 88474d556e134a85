"""Dialect ``qwen``: stock Qwen2.5-VL-Instruct with its ``computer_use`` / ``mobile_use`` tools.

The system message carries a ``# Tools`` section with the function signature
(generated in ``qwen_schema``) inside ``<tools></tools>`` and asks for calls as
``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``. The user turn
holds the task, the earlier steps as numbered calls and the current
screenshot; a step that still carries its screenshot (the agent keeps the last
``--history-images`` - 1) shows it right after its line. Answers in the UI-TARS
form are read too: models drift.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from PIL import Image

from ..actions import Action, DeviceKind
from ..canonical import format_action, parse_action
from ..errors import ActionParseError
from ..frames import ModelFrame
from ..messages import Message
from . import qwen_schema
from .base import (
    Dialect,
    DialectInfo,
    GroundingHit,
    HistoryStep,
    ParsedAnswer,
    PromptContext,
    check_answer_size,
)
from .grounding import parse_grounding
from .tool_calls import CLOSE_TAG, EXPECTED_CALL, OPEN_TAG
from .uitars_calls import parse_uitars_answer


class QwenDialect(Dialect):
    info = DialectInfo(name="qwen", default_image_history=1, aliases=("qwen2.5-vl", "qwen25vl", "qwen-vl"))

    # ------------------------------------------------------------------ prompt

    def system_prompt(self, device: DeviceKind, frame: ModelFrame) -> str:
        schema = json.dumps(qwen_schema.function_schema(device, frame), ensure_ascii=False)
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
                (
                    "Write every call as a JSON object with the function's name and its arguments, "
                    "between <tool_call></tool_call> tags:"
                ),
                OPEN_TAG,
                '{"name": <function-name>, "arguments": <args-json-object>}',
                CLOSE_TAG,
            ]
        )

    def user_parts(
        self, context: PromptContext, history: Sequence[HistoryStep], screenshot: Image.Image
    ) -> tuple[str | Image.Image, ...]:
        """The user turn: task, numbered history (with the screenshots it keeps), current screen last."""
        parts: list[str | Image.Image] = []
        lines = [f"The task: {context.task}"]
        if history:
            lines += ["", "Steps already taken on this device (oldest first):"]
            for number, step in enumerate(history, start=1):
                lines.append(f"Step {number}: {self.history_call(step, context.device)}")
                if step.feedback:
                    lines.append(f"Result of step {number}: {step.feedback}")
                if step.image is not None:
                    # The screen the model looked at when it chose this step.
                    lines.append(f"The screen step {number} was chosen on:")
                    parts += ["\n".join(lines), step.image]
                    lines = []
        if lines:
            lines.append("")
        lines.append("Here is the screen now. Make the next call.")
        parts += ["\n".join(lines), screenshot]
        return tuple(parts)

    def history_call(self, step: HistoryStep, device: DeviceKind) -> str:
        """An earlier step as the call the model would have written (canonical text when it has none)."""
        if step.action_text:
            try:
                action = parse_action(step.action_text)
            except ActionParseError:
                return step.action_text
            return self.format_call(action, device)
        return step.answer.strip()[:300] or "(no action)"

    def format_call(self, action: Action, device: DeviceKind) -> str:
        """The tool-call JSON for an action, or its canonical text where Qwen's function lacks it."""
        arguments = qwen_schema.qwen_arguments(action, device)
        if arguments is None:
            return format_action(action)
        return json.dumps({"name": qwen_schema.FUNCTION_NAMES[device], "arguments": arguments}, ensure_ascii=False)

    def build_messages(
        self, context: PromptContext, history: Sequence[HistoryStep], screenshot: Image.Image
    ) -> list[Message]:
        return [
            Message.text("system", self.system_prompt(context.device, context.frame)),
            Message("user", self.user_parts(context, history, screenshot)),
        ]

    # ------------------------------------------------------------------ parsing

    def parse(self, answer: str, frame: ModelFrame) -> ParsedAnswer:
        check_answer_size(answer, EXPECTED_CALL)
        # Models drift: an answer in the UI-TARS form is read too.
        parsed = tool_calls_else_uitars(qwen_schema.parse_tool_call_answer, answer, frame)
        if parsed is None:
            raise ActionParseError("no <tool_call> found in the answer", excerpt=answer, expected=EXPECTED_CALL)
        return parsed

    # ------------------------------------------------------------------ grounding

    def grounding_messages(self, query: str, screenshot: Image.Image, frame: ModelFrame) -> list[Message]:
        width, height = frame.extent
        prompt = (
            f"Find this on the screenshot: {query}\n"
            f"The image is {width}x{height} pixels. Answer with JSON only, in this form: "
            '[{"bbox_2d": [x1, y1, x2, y2], "label": "<what you found>"}]'
        )
        return [Message("user", (screenshot, prompt))]

    def parse_grounding(self, answer: str, frame: ModelFrame) -> list[GroundingHit]:
        check_answer_size(answer, '[{"bbox_2d": [x1, y1, x2, y2], "label": "..."}]')
        return parse_grounding(answer, frame)


def tool_calls_else_uitars(
    read_calls: Callable[[str, ModelFrame], ParsedAnswer | None],
    answer: str,
    frame: ModelFrame,
) -> ParsedAnswer | None:
    """The answer's tool calls, else its UI-TARS calls; None when it holds neither.

    A UI-TARS answer may quote a tag (``call_user(content='<tool_call>')``): when the tool calls
    cannot be read but the UI-TARS reading can, that reading wins; otherwise the tool-call error stands.
    """
    try:
        calls = read_calls(answer, frame)
    except ActionParseError as call_error:
        try:
            fallback = parse_uitars_answer(answer, frame)
        except ActionParseError:
            raise call_error from None
        if fallback is None:
            raise
        return fallback
    return calls or parse_uitars_answer(answer, frame)
