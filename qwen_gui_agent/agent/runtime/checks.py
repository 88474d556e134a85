"""Yes/no questions about the screen, for ``assert`` and ``wait_for`` task steps.

The model gets the frame-sized screenshot and a statement, and answers
``yes`` or ``no`` on the first line, then a short reason. The same prompt
serves every dialect: it asks for no action, only a judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PIL import Image

from ...tools.errors import ActionParseError
from ...tools.messages import Message

SYSTEM = (
    "You check the state of a graphical user interface from a screenshot. "
    "You are given one statement about the screen. Decide whether the screenshot shows it to be true. "
    "Reply with `yes` or `no` as the first word, then one short sentence giving the evidence you see."
)

_VERDICT = re.compile(r"^\W*(?:answer|verdict)?\W*(yes|no|true|false)\b\W*(.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str = ""


def verdict_messages(statement: str, screenshot: Image.Image, feedback: str = "") -> list[Message]:
    question = f"Statement: {statement}\nIs this statement true for the screen shown? Answer yes or no, then why."
    if feedback:
        question += f"\nNote: {feedback}"
    return [Message.text("system", SYSTEM), Message(role="user", parts=(screenshot, question))]


def parse_verdict(answer: str) -> Verdict:
    """Read ``yes``/``no`` (or true/false) from the start of the answer."""
    text = re.sub(r"^\s*(?:<think>.*?</think>|```\w*)", "", answer.strip(), flags=re.DOTALL).strip()
    match = _VERDICT.match(text)
    if not match:
        raise ActionParseError(
            "the answer does not start with yes or no",
            excerpt=answer,
            expected="`yes` or `no` as the first word, then a short reason",
        )
    word = match.group(1).lower()
    return Verdict(passed=word in ("yes", "true"), reason=match.group(2).strip())
