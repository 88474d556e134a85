"""Free-text limits that make every constrained answer fit its token cap.

A server decoding inside our grammar stops at the grammar's end or at ``max_tokens``, whichever
comes first. An answer cut at the cap does not parse, so the grammar's longest answer must fit
the cap. Its parts:

- the fixed part: the longest answer with every free text empty (the widest call and its
  points). Each token of a byte-level BPE carries at least one byte of text, so its UTF-8 length
  in bytes bounds its tokens, whatever a model (a random one included) picks;
- the free texts (grammar/rules.py ``FREE_TEXT_RULES``): the UI-TARS thought, and the one text
  an action carries (typed, reported or an app's name);
- the end-of-turn token, and a token or two past a token-bounded text's limit where xgrammar
  cannot end the text sooner (its bound is best-effort for bodies other than arbitrary text).

What is left of the cap after the fixed part goes to the free texts: two thirds to the thought
and one third to the action's text for UI-TARS, all of it to the text for Qwen. In ``chars``
(engines without token-bounded rules) a character is up to 4 bytes, so each limit is a quarter of
its token share. At the default ``--max-new-tokens 512`` a UI-TARS answer on a 1316x728 screen
gets a thought of up to 288 tokens and a typed text of up to 144 (docs/backends.md).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable

from .regex_form import GrammarNotRegular, body_tokens, rule_bodies
from .rules import FREE_TEXT_RULES, GrammarSpec, TextLimits, TextUnit, ebnf

THOUGHT_SHARE = 2 / 3  # of the free tokens, for UI-TARS; the rest goes to the action's text
END_TOKENS = 1  # the end-of-turn token the server generates when the grammar closes
OVERRUN_TOKENS = 2  # per token-bounded text: how far xgrammar may go past the limit before the text can end
MIN_TEXT_TOKENS = 8  # a text shorter than this is not worth constraining into
BYTES_PER_CHAR = 4  # the most a character takes in UTF-8
_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})|\\u([0-9a-fA-F]{4})|\\(.)|(.)", re.DOTALL)


class AnswerCapTooSmall(ValueError):
    """The cap cannot hold the grammar's longest answer with room for its free text."""

    def __init__(self, spec: GrammarSpec, answer_tokens: int, needed: int) -> None:
        self.needed = needed
        super().__init__(
            f"{answer_tokens} tokens cannot hold a constrained {spec.dialect} answer on a "
            f"{spec.width}x{spec.height} frame: it needs at least {needed}"
        )


def text_limits(spec: GrammarSpec, answer_tokens: int, unit: TextUnit) -> TextLimits:
    """Limits for ``spec``'s free texts such that its longest answer takes at most ``answer_tokens`` tokens."""
    thinks = spec.dialect == "uitars"
    per_unit = 1 if unit == "tokens" else BYTES_PER_CHAR
    reserve = fixed_bytes(spec) + END_TOKENS + (OVERRUN_TOKENS * (1 + thinks) if unit == "tokens" else 0)
    free = answer_tokens - reserve
    thought = int(free * THOUGHT_SHARE) if thinks else 0
    text = free - thought
    smallest = MIN_TEXT_TOKENS * per_unit
    if min(text, thought if thinks else text) < smallest:
        needed = reserve + (math.ceil(smallest / (1 - THOUGHT_SHARE)) + 1 if thinks else smallest)
        raise AnswerCapTooSmall(spec, answer_tokens, needed)
    # Qwen has no thought: its limit is unused (any positive value renders the same grammar).
    return TextLimits(unit, thought=max(thought // per_unit, 1), text=text // per_unit)


def fixed_bytes(spec: GrammarSpec) -> int:
    """UTF-8 bytes of ``spec``'s longest answer with every free text empty."""
    grammar = ebnf(dataclasses.replace(spec, limits=None))
    width = max_bytes(grammar, empty=tuple(FREE_TEXT_RULES))
    if math.isinf(width):
        raise GrammarNotRegular(f"the {spec.dialect} grammar has unbounded text outside {sorted(FREE_TEXT_RULES)}")
    return int(width)


def longest_answer_tokens(spec: GrammarSpec) -> int:
    """The most tokens an answer to ``spec`` (limits set) can take, end-of-turn token included."""
    if spec.limits is None:
        raise ValueError("an answer without text limits has no longest length")
    limits = spec.limits
    texts = [limits.text] + ([limits.thought] if spec.dialect == "uitars" else [])
    per_unit = 1 if limits.unit == "tokens" else BYTES_PER_CHAR
    overrun = OVERRUN_TOKENS if limits.unit == "tokens" else 0
    return fixed_bytes(spec) + END_TOKENS + sum(per_unit * text + overrun for text in texts)


def max_bytes(grammar: str, *, root: str = "root", empty: tuple[str, ...] = ()) -> float:
    """The most UTF-8 bytes a string of ``grammar``'s ``root`` can take (``inf`` when unbounded); the rules
    named in ``empty`` count as empty."""
    rules = rule_bodies(grammar)
    widths: dict[str, float] = {name: 0.0 for name in empty}

    def rule(name: str) -> float:
        if name not in widths:
            if name not in rules:
                raise GrammarNotRegular(f"rule {name!r} is used but not defined")
            widths[name] = math.inf  # a rule reached again while measured refers to itself: unbounded
            widths[name] = _Widths(list(body_tokens(name, rules[name])), rule).expression()
        return widths[name]

    return rule(root)


class _Widths:
    """The widest string of one rule body, by recursive descent: alternatives, sequences, repeats."""

    def __init__(self, tokens: list[tuple[str, str]], rule: Callable[[str], float]) -> None:
        self.tokens, self.rule, self.at = tokens, rule, 0

    def expression(self) -> float:
        widest = self.sequence()
        while self._peek() == "|":
            self.at += 1
            widest = max(widest, self.sequence())
        return widest

    def sequence(self) -> float:
        total = 0.0
        while self._peek() not in (None, "|", ")"):
            total += self.item()
        return total

    def item(self) -> float:
        kind, text = self.tokens[self.at]
        self.at += 1
        if kind == "literal":
            width = float(len(json.loads(text).encode("utf-8")))
        elif kind == "charclass":
            width = float(_class_bytes(text))
        elif kind == "name":
            width = self.rule(text)
        elif text == "(":
            width = self.expression()
            self.at += 1  # the closing parenthesis
        else:
            raise GrammarNotRegular(f"unexpected {text!r} in a grammar rule")
        while self.at < len(self.tokens) and (self.tokens[self.at][0] == "repeat" or self._peek() in ("?", "*", "+")):
            width = _repeated(width, self.tokens[self.at][1])
            self.at += 1
        return width

    def _peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None


def _repeated(width: float, repeat: str) -> float:
    if repeat == "?":
        return width
    if repeat in ("*", "+"):
        return math.inf if width else 0.0
    bounds = repeat.strip("{}").split(",")
    upper = bounds[-1]
    if not upper:  # {m,}
        return math.inf if width else 0.0
    return width * int(upper)


def _class_bytes(charclass: str) -> int:
    """The most UTF-8 bytes one character of ``charclass`` takes (a negated class: any character, up to 4)."""
    inner = charclass[1:-1]
    if inner.startswith("^"):
        return BYTES_PER_CHAR
    widest = 1
    for match in _ESCAPE.finditer(inner):
        hex2, hex4, escaped, plain = match.groups()
        char = chr(int(hex2 or hex4, 16)) if (hex2 or hex4) else (escaped or plain)
        widest = max(widest, len(char.encode("utf-8")))
    return widest
