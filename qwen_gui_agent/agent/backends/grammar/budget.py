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
(engines without token-bounded rules) each limit is its token share divided by the bytes of the
widest character of that text (4 for a character in UTF-8, 6 for Qwen's ``\\u003c``). At the
default ``--max-new-tokens 512`` a UI-TARS answer on a 1316x728 screen gets a thought of up to
292 tokens and a typed text of up to 147 (docs/backends.md).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Callable

from .regex_form import GrammarNotRegular, body_tokens, rule_bodies
from .rules import FREE_TEXT_RULES, GrammarSpec, TextLimits, TextUnit, ebnf

THOUGHT_SHARE = (2, 3)  # of the free tokens, for UI-TARS; the rest goes to the action's text
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
    widths = _unit_tokens(spec, unit)
    reserve = fixed_bytes(spec) + END_TOKENS + (OVERRUN_TOKENS * (1 + thinks) if unit == "tokens" else 0)

    def split(free: int) -> tuple[int, int] | None:
        """(thought, text) limits from ``free`` tokens; None when either is below the minimum."""
        thought = free * THOUGHT_SHARE[0] // THOUGHT_SHARE[1] if thinks else 0
        limits = (thought // widths["thought"], (free - thought) // widths["text"])
        return limits if min(limits[1], limits[0] if thinks else limits[1]) >= MIN_TEXT_TOKENS else None

    limits = split(answer_tokens - reserve)
    if limits is None:
        needed = reserve + next(free for free in itertools.count(MIN_TEXT_TOKENS) if split(free) is not None)
        raise AnswerCapTooSmall(spec, answer_tokens, needed)
    # Qwen has no thought: its limit is unused (any positive value renders the same grammar).
    return TextLimits(unit, thought=max(limits[0], 1), text=limits[1])


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
    limits, widths = spec.limits, _unit_tokens(spec, spec.limits.unit)
    kinds = ("thought", "text") if spec.dialect == "uitars" else ("text",)
    overrun = OVERRUN_TOKENS if limits.unit == "tokens" else 0
    return fixed_bytes(spec) + END_TOKENS + sum(widths[kind] * getattr(limits, kind) + overrun for kind in kinds)


def _unit_tokens(spec: GrammarSpec, unit: TextUnit) -> dict[str, int]:
    """The most tokens one unit of each kind of free text takes: 1 token, or the UTF-8 bytes of the widest
    character (an escape such as ``\\u003c`` included) of the texts of that kind."""
    if unit == "tokens":
        return {"thought": 1, "text": 1}
    grammar = ebnf(dataclasses.replace(spec, limits=None))
    present = rule_bodies(grammar)
    widths = {"thought": 1, "text": 1}
    for body_rule, (kind, char_rule) in FREE_TEXT_RULES.items():
        if body_rule in present:
            widths[kind] = max(widths[kind], int(max_bytes(grammar, root=char_rule)))
    return widths


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
