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

Every answer must fit its ``max_tokens``: a server stops at the cap, and an answer cut there does
not parse. So the grammar's free text (the UI-TARS thought, the text of an action) is bounded to
what the cap leaves (grammar/budget.py): in tokens for the EBNF forms vLLM and SGLang read with
xgrammar (``name[max_tokens=N]``, xgrammar 0.2.6 and later), in characters for the others.

vLLM compiles ``response_format`` JSON schemas with free whitespace between JSON tokens (its
``disable_any_whitespace`` is a server setting, off by default): a model off the JSON format
answers ``{`` and whitespace until the cap (vLLM 0.32, xgrammar 0.2.8). ``openai-json-schema`` is
refused on a server whose ``/models`` names vLLM, naming ``vllm``, the form that works there.

A server may also take the field and not apply it (``transformers serve`` ignores
``response_format``): every constrained answer is checked against the grammar's language as the
server's detokenizer leaves it (regex_form.answer_fit). One inside it was followed; the start of
one, cut at the cap, is "cut"; anything else is "ignored" (a warning, and in the step's record).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Literal

from ....tools.dialects.qwen_schema import ACTION_TABLES, FUNCTION_NAMES, function_schema
from ....tools.frames import ModelFrame
from ..base import BackendRequestError
from ..grammar.budget import AnswerCapTooSmall, text_limits
from ..grammar.regex_form import answer_fit, ebnf_to_regex
from ..grammar.rules import GrammarSpec, TextUnit, ebnf
from ..settings import StructuredOutputForm
from .server_info import ServerInfo

log = logging.getLogger(__name__)

STRUCTURED_OUTPUT_FORMS: tuple[str, ...] = StructuredOutputForm.__args__  # type: ignore[attr-defined]
FLAG = "--structured-output"
# Words a server's refusal uses when it is the constraint it refuses (vLLM, SGLang, transformers serve).
_CONSTRAINT_WORDS = (
    "structured",
    "guided",
    "grammar",
    "ebnf",
    "regex",
    "json_schema",
    "response_format",
    "unexpected field",
    "extra inputs are not permitted",
    "extra_forbidden",
    "xgrammar",
)
# The forms whose engines read xgrammar's token-bounded rules; the others bound free text in characters.
_TOKEN_BOUNDED_FORMS = ("vllm", "sglang")
Verdict = Literal["followed", "cut", "ignored"]


class StructuredOutputError(BackendRequestError):
    """The constraint could not be sent: the server refused it, or its form is unknown."""


@dataclass(frozen=True)
class Constraint:
    """One request's constraint: the fields to add to the body, and how to read and check the answer."""

    form: str
    spec: GrammarSpec
    fields: dict[str, Any]

    def read_answer(self, text: str, *, hit_cap: bool) -> tuple[str, Verdict]:
        """The answer in the dialect's text, and whether the server followed the constraint, ran out of tokens
        inside it (``hit_cap``: it stopped at max_tokens), or ignored it. ``text`` is the answer as sent."""
        if self.form != "openai-json-schema":
            return text.strip(), _verdict(answer_fit(self.spec, text), hit_cap)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            cut = hit_cap and text.lstrip().startswith("{") and _ends_early(error, text)
            return text.strip(), "cut" if cut else "ignored"
        if not isinstance(data, dict):
            return text.strip(), "ignored"
        if self.spec.dialect == "qwen":
            if not isinstance(data.get("arguments"), dict) or data.get("name") not in FUNCTION_NAMES.values():
                return text.strip(), "ignored"
            # "<" only occurs inside JSON strings: escaped, no text can end the call for the parser.
            call = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
            return f"<tool_call>\n{call}\n</tool_call>", "followed"
        thought, action = data.get("thought"), data.get("action")
        if not isinstance(thought, str) or not isinstance(action, str):
            return text.strip(), "ignored"
        rewritten = f"Thought: {thought}\nAction: {action}"
        return rewritten, _verdict(answer_fit(self.spec, rewritten), hit_cap)


def _verdict(fit: str, hit_cap: bool) -> Verdict:
    if fit == "whole":
        return "followed"
    return "cut" if fit == "prefix" and hit_cap else "ignored"


def _ends_early(error: json.JSONDecodeError, text: str) -> bool:
    """Whether JSON failed only because ``text`` stops before its end (a cut answer, not a wrong one)."""
    return error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")


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


def build_constraint(
    form: str, grammar_name: str, frame: ModelFrame | tuple[int, int], answer_tokens: int
) -> Constraint | None:
    """The constraint of ``grammar_name`` ("qwen", "uitars-relative" ...) for an image of ``frame``, its free
    text bounded so that every answer fits ``answer_tokens`` (the request's max_tokens); None for off."""
    if form == "off":
        return None
    width, height = (frame.width, frame.height) if isinstance(frame, ModelFrame) else frame
    spec = GrammarSpec.from_name(grammar_name, width, height)
    unit: TextUnit = "tokens" if form in _TOKEN_BOUNDED_FORMS else "chars"
    try:
        spec = dataclasses.replace(spec, limits=text_limits(spec, answer_tokens, unit))
    except AnswerCapTooSmall as small:
        raise StructuredOutputError(
            f"--grammar: a max_tokens of {answer_tokens} leaves no room for a constrained answer ({small})",
            hint=f"raise --max-new-tokens to {small.needed} or more, or run without --grammar",
        ) from None
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
            fields = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": f"{spec.dialect}_action", "schema": answer_schema(spec), "strict": True},
                }
            }
        case _:
            raise ValueError(f"unknown structured-output form {form!r}; choose one of {STRUCTURED_OUTPUT_FORMS}")
    return Constraint(form=form, spec=spec, fields=fields)


def refuse_json_schema_on_vllm(base_url: str) -> StructuredOutputError:
    return StructuredOutputError(
        f"--structured-output openai-json-schema is refused for {base_url}: its /models names vLLM, which "
        "compiles response_format JSON schemas with free whitespace between JSON tokens, and a model off the "
        "JSON format then answers '{' and whitespace up to the token cap",
        hint=f"use {FLAG} vllm (the same action grammar as EBNF, which vLLM applies exactly) or {FLAG} auto",
    )


def answer_schema(spec: GrammarSpec) -> dict[str, Any]:
    """The JSON schema of one answer: Qwen's call object, or UI-TARS' thought and action (a call by regex)."""
    if spec.dialect == "uitars":
        thought = f"{{1,{spec.limits.thought}}}" if spec.limits is not None else "+"
        return {
            "type": "object",
            "properties": {
                "thought": {"type": "string", "pattern": f"^[^\\n\\r]{thought}$"},
                "action": {"type": "string", "pattern": f"^(?:{ebnf_to_regex(ebnf(spec), root='call')})$"},
            },
            "required": ["thought", "action"],
            "additionalProperties": False,
        }
    frame = ModelFrame(width=spec.width, height=spec.height)
    point = {
        "type": "array",
        "prefixItems": [
            {"type": "integer", "minimum": 0, "maximum": spec.width},
            {"type": "integer", "minimum": 0, "maximum": spec.height},
        ],
        "items": False,
        "minItems": 2,
        "maxItems": 2,
    }
    calls = []
    for device in ACTION_TABLES:
        parameters = dict(function_schema(device, frame)["function"]["parameters"])  # type: ignore[index]
        properties = {name: _without_description(value) for name, value in parameters["properties"].items()}
        properties.update({name: point for name in ("coordinate", "coordinate2") if name in properties})
        if "text" in properties and spec.limits is not None:
            properties["text"] = {**properties["text"], "maxLength": spec.limits.text}
        calls.append(
            {
                "type": "object",
                "properties": {
                    "name": {"const": FUNCTION_NAMES[device]},
                    "arguments": {**parameters, "properties": properties},
                },
                "required": ["name", "arguments"],
            }
        )
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
        f"sglang-regex, openai-json-schema), or run without --grammar ({FLAG} off)"
        + (
            " (this form bounds free text with max_tokens rules, which need xgrammar 0.2.6 or later on the server; "
            "vllm-guided and sglang-regex bound it in characters)"
            if form in _TOKEN_BOUNDED_FORMS
            else ""
        ),
    )


def ignored_note(form: str) -> str:
    return (
        f"the server ignored the structured-output constraint ({FLAG} {form}): the answer is outside the action grammar"
    )


def cut_note(form: str, max_tokens: int) -> str:
    return (
        f"the constrained answer ({FLAG} {form}) reached the token cap ({max_tokens}) before the grammar's "
        "end, so it may not parse: the server may not bound the grammar's free text (xgrammar before 0.2.6 "
        "does not read max_tokens rules)"
    )
