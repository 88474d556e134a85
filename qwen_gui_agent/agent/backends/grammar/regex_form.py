"""The answer grammars of grammar/rules.py as one regular expression.

Our answer grammars never refer to themselves (no rule reaches its own name), so each one is a
regular language: substituting every rule's body for its name gives a single regular expression
that accepts exactly the strings the EBNF accepts. Two uses:

- servers whose constraint engine takes a regex and not EBNF (SGLang with the Outlines backend,
  the ``regex`` forms of vLLM and SGLang) get the same constraint;
- the openai backend checks a constrained answer against it, to tell when a server took the
  constraint but did not apply it (no xgrammar needed on the agent's machine).

The EBNF we write uses JSON-quoted string literals, character classes whose escapes Python's ``re``
reads the same way (``\\n``, ``\\x1f``, ``\\\\``), grouping, ``|``, ``?``, ``*``, ``+``, ``{m,n}``, and
xgrammar's rule attribute ``name[max_tokens=N]``. A token count cannot be seen in text: the regex
of a token-bounded rule is its body, unbounded.

The answer check reads the answer as the server's detokenizer left it. A server that detokenizes
with ``skip_special_tokens`` drops every token its tokenizer marks special; the real Qwen2.5-VL
tokenizer marks ``<tool_call>``/``</tool_call>`` as ordinary added tokens (``"special": false``,
kept), but a converted or fine-tuned tokenizer may not, so the check takes those tags as optional
(``SKIPPABLE_TAGS``). It also tells an answer cut at the token cap (a prefix of the language: the
constraint was applied, the answer ran out) from one outside it (the constraint was not applied).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

import regex

from .rules import GrammarSpec, ebnf

# Texts a server's detokenizer may drop from an answer: Qwen's tool-call tags, single added tokens that
# some tokenizers mark special (skip_special_tokens then removes them).
SKIPPABLE_TAGS = ("<tool_call>", "</tool_call>")
AnswerFit = Literal["whole", "prefix", "outside"]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<literal>"(?:[^"\\]|\\.)*")
      | (?P<charclass>\[(?:[^\]\\]|\\.)*\])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<repeat>\{\d+(?:,\d*)?\})
      | (?P<operator>[|()?*+])
    )""",
    re.VERBOSE,
)


class GrammarNotRegular(ValueError):
    """A grammar that refers to itself, or uses syntax this translator does not read."""


_RULE_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[[^\]]*\])?\s*")


def ebnf_to_regex(grammar: str, root: str = "root", *, optional_texts: tuple[str, ...] = ()) -> str:
    """A Python regular expression (for ``re.fullmatch``) accepting what ``grammar``'s ``root`` rule accepts;
    each of ``optional_texts`` inside a literal may also be missing."""
    rules = rule_bodies(grammar)
    if root not in rules:
        raise GrammarNotRegular(f"the grammar has no rule {root!r}")
    return _expand(root, rules, (), optional_texts)


def rule_bodies(grammar: str) -> dict[str, str]:
    """Each rule's body by its name (an attribute such as ``[max_tokens=N]`` left out)."""
    rules: dict[str, str] = {}
    for line in grammar.splitlines():
        if not line.strip():
            continue
        head, separator, body = line.partition("::=")
        name = _RULE_NAME.fullmatch(head)
        if not separator or name is None:
            raise GrammarNotRegular(f"not a rule line: {line[:80]!r}")
        rules[name.group(1)] = body
    return rules


def body_tokens(name: str, body: str) -> Iterator[tuple[str, str]]:
    """The (kind, text) tokens of one rule's body: literal, charclass, name, repeat or operator."""
    position = 0
    while position < len(body) and body[position:].strip():
        match = _TOKEN.match(body, position)
        if match is None:
            raise GrammarNotRegular(f"cannot read rule {name!r} at {body[position : position + 30]!r}")
        position = match.end()
        kind = str(match.lastgroup)
        yield kind, match.group(kind)


def _expand(name: str, rules: dict[str, str], active: tuple[str, ...], optional: tuple[str, ...]) -> str:
    if name in active:
        raise GrammarNotRegular(f"rule {name!r} refers to itself ({' -> '.join((*active, name))})")
    if name not in rules:
        raise GrammarNotRegular(f"rule {name!r} is used but not defined")
    parts = []
    for kind, token in body_tokens(name, rules[name]):
        if kind == "literal":
            parts.append(_literal(json.loads(token), optional))
        elif kind == "name":
            parts.append(f"(?:{_expand(token, rules, (*active, name), optional)})")
        elif token == "(":
            parts.append("(?:")
        else:  # a character class, a repeat count or an operator: the same in Python's re
            parts.append(token)
    return "".join(parts)


def _literal(text: str, optional: tuple[str, ...]) -> str:
    """``text`` as a regex; each of ``optional`` in it may be missing, and so may the whitespace next to it (a
    dropped tag leaves its newline at the answer's edge, where stripping the answer removes it)."""
    if not optional:
        return re.escape(text)
    pieces = re.split("(" + "|".join(re.escape(item) for item in optional) + ")", text)
    parts = []
    for index, piece in enumerate(pieces):  # plain text at even indexes, an optional text between them
        if index % 2:
            parts.append(f"(?:{re.escape(piece)})?")
            continue
        start = len(piece) - len(piece.lstrip()) if index > 0 else 0
        end = len(piece.rstrip()) if index < len(pieces) - 1 else len(piece)
        end = max(end, start)
        parts.append(_maybe(piece[:start]) + re.escape(piece[start:end]) + _maybe(piece[end:]))
    return "".join(parts)


def _maybe(text: str) -> str:
    return f"(?:{re.escape(text)})?" if text else ""


@functools.lru_cache(maxsize=32)
def answer_pattern(spec: GrammarSpec) -> Any:
    """The compiled pattern that checks answers to ``spec``: its grammar with the free text unbounded (a
    token count is not visible in text) and the skippable tags optional (cached: one per dialect and frame)."""
    unbounded = dataclasses.replace(spec, limits=None)
    return regex.compile(ebnf_to_regex(ebnf(unbounded), optional_texts=SKIPPABLE_TAGS), regex.DOTALL)


def answer_fit(spec: GrammarSpec, answer: str) -> AnswerFit:
    """How ``answer`` (as the server sent it) relates to ``spec``'s language: ``whole`` (inside it, whitespace
    around it aside), ``prefix`` (the start of an answer inside it) or ``outside``."""
    pattern = answer_pattern(spec)
    candidates = dict.fromkeys((answer, answer.strip()))
    if any(pattern.fullmatch(text) for text in candidates):
        return "whole"
    if any(pattern.fullmatch(text, partial=True) for text in candidates):
        return "prefix"
    return "outside"


def answer_matches(spec: GrammarSpec, answer: str) -> bool:
    """Whether ``answer`` lies inside ``spec``'s grammar (see ``answer_fit``)."""
    return answer_fit(spec, answer) == "whole"
