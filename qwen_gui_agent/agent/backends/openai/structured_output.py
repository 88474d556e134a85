"""``--grammar`` over HTTP: the dialect's action grammar sent in the form the server takes.

Serving engines constrain an answer when the request carries the constraint in their own field:

| form | request field | for |
|---|---|---|
| ``vllm`` | ``structured_outputs: {"grammar": EBNF}`` | vLLM 0.10 and later (the only form from 0.12) |
| ``vllm-guided`` | ``guided_grammar: EBNF`` | vLLM before 0.12 |
| ``sglang`` | ``ebnf: EBNF`` | SGLang (XGrammar or llguidance grammar backend) |
| ``sglang-regex`` | ``regex: REGEX`` | SGLang with the Outlines grammar backend (no EBNF there) |
| ``openai-json-schema`` | ``response_format: {"type": "json_schema", ...}`` | servers that take only OpenAI's form |

``auto`` picks ``vllm`` or ``sglang`` from what ``GET /models`` says (``owned_by``) and fails with a
clear message when the server does not say. The EBNF is grammar/rules.py's (xgrammar's dialect, the
default grammar engine of both vLLM and SGLang); the regex is the same grammar flattened
(grammar/regex_form.py). With the JSON-schema form the server answers with JSON: the call object for
``qwen``, ``{"thought", "action"}`` for ``uitars``; it is rewritten into the dialect's own text
so the parser reads one format.

A server may also take the field and not apply it (``transformers serve`` ignores
``response_format``): every constrained answer is checked against the grammar, and one outside it is
reported as "ignored" (a warning, and in the step's record).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from ....tools.dialects.qwen_schema import ACTION_TABLES, FUNCTION_NAMES, function_schema
from ....tools.frames import ModelFrame
from ..base import BackendRequestError
from ..grammar.regex_form import answer_matches, ebnf_to_regex
from ..grammar.rules import GrammarSpec, ebnf
from ..settings import StructuredOutputForm
from .server_info import ServerInfo

log = logging.getLogger(__name__)

STRUCTURED_OUTPUT_FORMS: tuple[str, ...] = StructuredOutputForm.__args__  # type: ignore[attr-defined]
FLAG = "--structured-output"
# Words a server's refusal uses when it is the constraint it refuses (vLLM, SGLang, transformers serve).
_CONSTRAINT_WORDS = ("structured", "guided", "grammar", "ebnf", "regex", "json_schema", "response_format",
                     "unexpected field", "extra inputs are not permitted", "extra_forbidden", "xgrammar")


class StructuredOutputError(BackendRequestError):
    """The constraint could not be sent: the server refused it, or its form is unknown."""


@dataclass(frozen=True)
class Constraint:
    """One request's constraint: the fields to add to the body, and how to read and check the answer."""

    form: str
    spec: GrammarSpec
    fields: dict[str, Any]

    def read_answer(self, text: str) -> tuple[str, bool]:
        """The answer in the dialect's text, and whether it lies inside the grammar (False: not applied)."""
        if self.form != "openai-json-schema":
            return text, answer_matches(self.spec, text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return text, False
        if not isinstance(data, dict):
            return text, False
        if self.spec.dialect == "qwen":
            if not isinstance(data.get("arguments"), dict) or data.get("name") not in FUNCTION_NAMES.values():
                return text, False
            return f"<tool_call>\n{json.dumps(data, ensure_ascii=False)}\n</tool_call>", True
        thought, action = data.get("thought"), data.get("action")
        if not isinstance(thought, str) or not isinstance(action, str):
            return text, False
        rewritten = f"Thought: {thought}\nAction: {action}"
        return rewritten, answer_matches(self.spec, rewritten)


def resolve_form(configured: str, info: ServerInfo | None, base_url: str) -> str:
    """The form to send: the configured one, or for ``auto`` the one the server's /models names."""
    if configured != "auto":
        return configured
    if info is not None and info.engine in ("vllm", "sglang"):
        return info.engine
    raise StructuredOutputError(
        f"--grammar with --backend openai: cannot tell which structured-output form {base_url} takes "
        "(its /models listing names neither vllm nor sglang)",
        hint=f"pass {FLAG} vllm, vllm-guided, sglang, sglang-regex or openai-json-schema for this server, "
        f"or {FLAG} off to send no constraint (answers are then unconstrained)",
    )


def build_constraint(form: str, grammar_name: str, frame: ModelFrame | tuple[int, int]) -> Constraint | None:
    """The constraint of ``grammar_name`` ("qwen", "uitars-relative" ...) for an image of ``frame``; None for off."""
    if form == "off":
        return None
    width, height = (frame.width, frame.height) if isinstance(frame, ModelFrame) else frame
    spec = GrammarSpec.from_name(grammar_name, width, height)
    match form:
        case "vllm":
            fields: dict[str, Any] = {"structured_outputs": {"grammar": ebnf(spec)}}
        case "vllm-guided":
            fields = {"guided_grammar": ebnf(spec)}
        case "sglang":
            fields = {"ebnf": ebnf(spec)}
        case "sglang-regex":
            fields = {"regex": ebnf_to_regex(ebnf(spec))}
        case "openai-json-schema":
            fields = {"response_format": {"type": "json_schema", "json_schema": {
                "name": f"{spec.dialect}_action", "schema": answer_schema(spec), "strict": True}}}
        case _:
            raise ValueError(f"unknown structured-output form {form!r}; choose one of {STRUCTURED_OUTPUT_FORMS}")
    return Constraint(form=form, spec=spec, fields=fields)


def answer_schema(spec: GrammarSpec) -> dict[str, Any]:
    """The JSON schema of one answer: Qwen's call object, or UI-TARS' thought and action (a call by regex)."""
    if spec.dialect == "uitars":
        return {
            "type": "object",
            "properties": {
                "thought": {"type": "string", "pattern": "^[^\\n\\r]+$"},
                "action": {"type": "string", "pattern": f"^(?:{ebnf_to_regex(ebnf(spec), root='call')})$"},
            },
            "required": ["thought", "action"],
            "additionalProperties": False,
        }
    frame = ModelFrame(width=spec.width, height=spec.height)
    point = {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0, "maximum": spec.width},
                                              {"type": "integer", "minimum": 0, "maximum": spec.height}],
             "items": False, "minItems": 2, "maxItems": 2}
    calls = []
    for device in ACTION_TABLES:
        parameters = dict(function_schema(device, frame)["function"]["parameters"])  # type: ignore[index]
        properties = {name: _without_description(value) for name, value in parameters["properties"].items()}
        properties.update({name: point for name in ("coordinate", "coordinate2") if name in properties})
        calls.append({
            "type": "object",
            "properties": {"name": {"const": FUNCTION_NAMES[device]},
                           "arguments": {**parameters, "properties": properties}},
            "required": ["name", "arguments"],
        })
    return {"anyOf": calls}


def _without_description(schema: Any) -> Any:
    return {key: value for key, value in schema.items() if key != "description"} if isinstance(schema, dict) else schema


def refusal_is_about_constraint(message: str) -> bool:
    """Whether a 4xx's message names the constraint (field names, "grammar", "unexpected fields" ...)."""
    folded = message.lower()
    return any(word in folded for word in _CONSTRAINT_WORDS)


def rejected(form: str, status: int, message: str, base_url: str) -> StructuredOutputError:
    return StructuredOutputError(
        f"HTTP {status} from {base_url}: the server refused the structured-output constraint sent as "
        f"{FLAG} {form}: {message}",
        hint=f"this server does not take that form: try another {FLAG} value (vllm, vllm-guided, sglang, "
        f"sglang-regex, openai-json-schema), or run without --grammar ({FLAG} off)",
    )


def ignored_note(form: str) -> str:
    return (f"the server ignored the structured-output constraint ({FLAG} {form}): the answer is outside the "
            "action grammar")
