"""The answer grammars of grammar/rules.py as one regular expression.

Our answer grammars never refer to themselves (no rule reaches its own name), so each one is a
regular language: substituting every rule's body for its name gives a single regular expression
that accepts exactly the strings the EBNF accepts. Two uses:

- servers whose constraint engine takes a regex and not EBNF (SGLang with the Outlines backend,
  the ``regex`` forms of vLLM and SGLang) get the same constraint;
- the openai backend checks a constrained answer with ``re.fullmatch``, to tell when a server took
  the constraint but did not apply it (no xgrammar needed on the agent's machine).

The EBNF we write uses JSON-quoted string literals, character classes whose escapes Python's ``re``
reads the same way (``\\n``, ``\\x1f``, ``\\\\``), grouping, ``|``, ``?``, ``*``, ``+`` and ``{m,n}``.
"""

from __future__ import annotations

import functools
import json
import re

from .rules import GrammarSpec, ebnf

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


def ebnf_to_regex(grammar: str, root: str = "root") -> str:
    """A Python regular expression (for ``re.fullmatch``) accepting what ``grammar``'s ``root`` rule accepts."""
    rules = _split_rules(grammar)
    if root not in rules:
        raise GrammarNotRegular(f"the grammar has no rule {root!r}")
    return _expand(root, rules, ())


def _split_rules(grammar: str) -> dict[str, str]:
    rules: dict[str, str] = {}
    for line in grammar.splitlines():
        if not line.strip():
            continue
        name, separator, body = line.partition("::=")
        if not separator:
            raise GrammarNotRegular(f"not a rule line: {line[:80]!r}")
        rules[name.strip()] = body
    return rules


def _expand(name: str, rules: dict[str, str], active: tuple[str, ...]) -> str:
    if name in active:
        raise GrammarNotRegular(f"rule {name!r} refers to itself ({' -> '.join((*active, name))})")
    if name not in rules:
        raise GrammarNotRegular(f"rule {name!r} is used but not defined")
    body, position, parts = rules[name], 0, []
    while position < len(body):
        if not body[position:].strip():
            break
        match = _TOKEN.match(body, position)
        if match is None:
            raise GrammarNotRegular(f"cannot read rule {name!r} at {body[position:position + 30]!r}")
        position = match.end()
        kind = match.lastgroup
        token = match.group(kind)
        if kind == "literal":
            parts.append(re.escape(json.loads(token)))
        elif kind == "name":
            parts.append(f"(?:{_expand(token, rules, (*active, name))})")
        elif token == "(":
            parts.append("(?:")
        else:  # a character class, a repeat count or an operator: the same in Python's re
            parts.append(token)
    return "".join(parts)


@functools.lru_cache(maxsize=32)
def answer_pattern(spec: GrammarSpec) -> re.Pattern[str]:
    """The compiled regular expression of ``spec``'s answer grammar (cached: one per dialect and frame)."""
    return re.compile(ebnf_to_regex(ebnf(spec)), re.DOTALL)


def answer_matches(spec: GrammarSpec, answer: str) -> bool:
    """Whether ``answer`` lies inside ``spec``'s grammar, exactly as a constrained decoder would write it."""
    return answer_pattern(spec).fullmatch(answer) is not None
