"""Dialect ``uitars``: UI-TARS-1.5 and Qwen2.5-VL models fine-tuned on its format.

The prompt keeps the sections these models were trained on (``## Output
Format``, ``## Action Space``, ``## Note``, ``## User Instruction``) with the
action signatures they know; the notes are in our own words. History is
alternating screenshot (user) / answer (assistant) turns for the steps that
still carry an image, with older steps summarized as text. Answers in the
Qwen ``<tool_call>`` form are read too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from ..actions import DeviceKind
from ..frames import ModelFrame
from ..messages import Message
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
from .qwen_schema import parse_tool_call_answer
from .uitars_calls import EXPECTED_ANSWER, no_call_error, parse_uitars_answer

_BOX = "<|box_start|>({})<|box_end|>"


@dataclass(frozen=True)
class UITarsAction:
    """One line of ``## Action Space``: the call the model writes and a note in our words."""

    signature: str
    note: str = ""
    devices: tuple[DeviceKind, ...] = ("computer", "mobile")


ACTION_SPACE: tuple[UITarsAction, ...] = (
    UITarsAction(f"click(start_box='{_BOX.format('x1,y1')}')"),
    UITarsAction(f"left_double(start_box='{_BOX.format('x1,y1')}')", devices=("computer",)),
    UITarsAction(f"right_single(start_box='{_BOX.format('x1,y1')}')", devices=("computer",)),
    UITarsAction(f"long_press(start_box='{_BOX.format('x1,y1')}')", devices=("mobile",)),
    UITarsAction(f"drag(start_box='{_BOX.format('x1,y1')}', end_box='{_BOX.format('x3,y3')}')"),
    UITarsAction(
        "hotkey(key='ctrl c')", "# Keys in lower case, separated by spaces; three keys at most.", ("computer",)
    ),
    UITarsAction(
        "type(content='xxx')",
        "# Escape \\', \\\" and \\n inside content so that it reads as a Python string. "
        "End content with \\n to submit what you typed.",
    ),
    UITarsAction(
        f"scroll(start_box='{_BOX.format('x1,y1')}', direction='down or up or right or left')",
        "# Brings more of the page on that side into view.",
    ),
    UITarsAction("open_app(app_name='')", "# Starts an app by its name.", ("mobile",)),
    UITarsAction("press_home()", "# Goes to the home screen.", ("mobile",)),
    UITarsAction("press_back()", "# Goes back one screen.", ("mobile",)),
    UITarsAction("wait()", "# Pauses 5 seconds, then you get a new screenshot."),
    UITarsAction("finished(content='xxx')", "# The task is done; content says what was achieved (escape as in type)."),
    UITarsAction("call_user()", "# Ask the person for help when you cannot go on without them."),
)


class UITarsDialect(Dialect):
    info = DialectInfo(name="uitars", default_image_history=5, aliases=("ui-tars", "ui_tars", "uitars-1.5"))

    # ------------------------------------------------------------------ prompt

    def instruction_prompt(self, context: PromptContext) -> str:
        space = [
            f"{entry.signature} {entry.note}".rstrip() for entry in ACTION_SPACE if context.device in entry.devices
        ]
        who = "a computer" if context.device == "computer" else "a mobile phone"
        return "\n".join(
            [
                (
                    f"You are a GUI agent working on {who}. You get a task, your earlier actions and screenshots; "
                    "decide the next action that moves the task forward."
                ),
                "",
                "## Output Format",
                "```",
                "Thought: ...",
                "Action: ...",
                "```",
                "",
                "## Action Space",
                "",
                *space,
                "",
                "## Note",
                f"- Write the Thought part in {context.language}.",
                (
                    "- In the Thought part, plan briefly, then say in one sentence what the next action is and which "
                    "element it targets."
                ),
                "",
                "## User Instruction",
                context.task,
            ]
        )

    def build_messages(
        self, context: PromptContext, history: Sequence[HistoryStep], screenshot: Image.Image
    ) -> list[Message]:
        first_image = next((index for index, step in enumerate(history) if step.image is not None), len(history))
        older, recent = history[:first_image], history[first_image:]
        opening = self.instruction_prompt(context)
        if older:
            opening += "\n\n" + self.summarize(older)
        messages = [Message.text("user", opening)]
        pending: list[str] = []  # feedback waits for the next user turn
        for step in recent:
            if step.image is not None:
                messages.append(Message("user", (*pending, step.image)))
                pending = []
            messages.append(Message.text("assistant", self.answer_text(step)))
            if step.feedback:
                pending.append(step.feedback)
        messages.append(Message("user", (*pending, screenshot)))
        return messages

    @staticmethod
    def answer_text(step: HistoryStep) -> str:
        return step.answer.strip() or f"Action: {step.action_text}"

    @staticmethod
    def summarize(steps: Sequence[HistoryStep]) -> str:
        """Steps whose screenshots are no longer shown, as one line each."""
        lines = ["## Earlier Actions"]
        for number, step in enumerate(steps, start=1):
            line = f"{number}. {step.action_text or step.answer.strip()[:300] or '(no action)'}"
            if step.feedback:
                line += f" -> {step.feedback}"
            lines.append(line)
        return "\n".join(lines)

    # ------------------------------------------------------------------ parsing

    def parse(self, answer: str, frame: ModelFrame) -> ParsedAnswer:
        check_answer_size(answer, EXPECTED_ANSWER)
        # Models drift: an answer in the Qwen <tool_call> form is read too.
        parsed = parse_uitars_answer(answer, frame) or parse_tool_call_answer(answer, frame)
        if parsed is None:
            raise no_call_error(answer)
        return parsed

    # ------------------------------------------------------------------ grounding

    def grounding_messages(self, query: str, screenshot: Image.Image, frame: ModelFrame) -> list[Message]:
        prompt = (
            "Answer with the coordinate of a single point and nothing else. "
            f"Which element on the screen matches this description: {query}"
        )
        return [Message("user", (screenshot, prompt))]

    def parse_grounding(self, answer: str, frame: ModelFrame) -> list[GroundingHit]:
        check_answer_size(answer, "a point (x,y)")
        return parse_grounding(answer, frame)
