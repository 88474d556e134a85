"""Read structured data off the screen: a question, a type, and the model's answer as JSON checked against it.

The model gets the frame-sized screenshot, the question and the JSON Schema of
the expected answer, and answers with JSON only. An answer that holds no
JSON, or JSON that does not validate, goes back to the model with the reason
(up to ``max_parse_errors`` times), as bad action answers do in the goal loop;
then the query fails with ``QueryFailed``. The step records the JSON the last
answer held (``StepRecord.value``), so ``agent replay --check`` can read the
recorded answer again with today's code and compare.
"""

from __future__ import annotations

import json
import re
from typing import Any

from PIL import Image
from pydantic import TypeAdapter, ValidationError

from ...tools.errors import ActionParseError
from ...tools.messages import Message
from ..files.bounded_json import JsonLimitError, JsonLimits, loads_bounded, raw_decode_bounded
from ..records.run_files import ErrorRecord
from .session import Session, StopRun

SYSTEM = (
    "You read information from a screenshot of a graphical user interface. "
    "You are given a question and the JSON Schema of the answer. Reply with only a JSON value that "
    "matches the schema, taken from what the screenshot shows; no explanation."
)

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)


class QueryFailed(StopRun):
    """No usable answer to a query: no JSON, or JSON that does not fit the schema, after every retry."""

    def __init__(self, question: str, problem: str, answer: str) -> None:
        self.question = question
        self.problem = problem
        self.answer = answer
        message = f"no valid answer to the query {question!r}: {problem}"
        super().__init__("failure", message, error=ErrorRecord(kind="parse", message=problem))


def query_messages(question: str, screenshot: Image.Image, schema: dict[str, Any], feedback: str = "") -> list[Message]:
    text = f"Question: {question}\nAnswer schema (JSON Schema): {json.dumps(schema, ensure_ascii=False)}"
    if feedback:
        text += f"\nNote: {feedback}"
    return [Message.text("system", SYSTEM), Message(role="user", parts=(screenshot, text))]


QUERY_LIMITS = JsonLimits(max_depth=32)  # a value sits one level into its step record, whose reader allows 64


def extract_json(answer: str) -> Any:
    """The JSON value an answer holds: in a ```json fence, the whole text, or from its first { or [.

    An answer with no JSON in it is read as a plain string (``Shanghai`` for a
    string question); the schema then decides whether that will do.
    """
    text = _THINKING.sub("", answer).strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    if not text:
        raise ActionParseError("the answer is empty", excerpt=answer, expected="a JSON value matching the schema")
    # Bounded as every outside JSON is (agent.files.bounded_json): the value is recorded with the step, and the
    # run folder's own reader must read it back.
    try:
        return loads_bounded(text, QUERY_LIMITS)
    except JsonLimitError as error:
        if not error.syntax:
            raise _past_limits(error, answer) from None
    for start in (index for index, char in enumerate(text) if char in "{["):
        try:
            return raw_decode_bounded(text, start, QUERY_LIMITS)[0]
        except json.JSONDecodeError:
            continue
        except JsonLimitError as error:
            raise _past_limits(error, answer) from None
    return text


def _past_limits(error: JsonLimitError, answer: str) -> ActionParseError:
    return ActionParseError(
        f"the answer's JSON is {error}", excerpt=answer[:200], expected="a JSON value matching the schema"
    )


def describe_errors(error: ValidationError) -> str:
    """A validation error in a line the model can act on: ``price: Input should be a valid number``."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def ask_query(session: Session, question: str, adapter: TypeAdapter[Any]) -> Any:
    """One recorded ``query`` step: the validated answer, or QueryFailed after the retries."""
    schema = adapter.json_schema()
    with session.step("query") as draft:
        draft.note = question
        observation = session.observe(draft)
        feedback = ""
        problem = ""
        for _ in range(session.settings.max_parse_errors + 1):
            with draft.timed("prompt"):
                messages = query_messages(question, observation.image, schema, feedback)
            completion = session.ask_model(draft, messages)
            draft.value = None
            try:
                with draft.timed("parse"):
                    data = extract_json(completion.text)
                    draft.value = session.secrets.redact_data(data)
                    value = adapter.validate_python(data)
            except ActionParseError as error:
                problem = error.problem
            except ValidationError as error:
                problem = f"the answer does not match the schema: {describe_errors(error)}"
            else:
                draft.error = None
                session.emit("query", question=question, value=draft.value)
                return value
            feedback = f"{problem}. Reply with only JSON that matches the schema."
            draft.error = ErrorRecord(kind="parse", message=problem)
            draft.feedback = feedback
            session.emit("feedback", kind="parse", message=feedback)
        raise QueryFailed(question, problem, completion.text)
