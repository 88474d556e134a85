"""The answer formats of our dialects as EBNF grammars (xgrammar's dialect of EBNF).

Constrained decoding (agent/backends/local/fastpath/grammar.py, and serving engines through
agent/backends/openai/structured_output.py) lets the model pick only tokens that keep its answer
inside one of these grammars, so every answer parses with the dialect's parser:

- qwen: ``<tool_call>\\n{"name": "computer_use", "arguments": {"action": ..., ...}}\\n</tool_call>``
  with the action enum, parameter names and parameter types read off tools/dialects/qwen_schema.py
  (both functions: the parser accepts either whatever the device);
- uitars: ``Thought: <one line>\\nAction: <one call>`` with the calls of tools/dialects/uitars.py.

The grammars are strict on layout (one spacing, one key order): that is the format the prompts
show, and a fixed layout is what lets whole runs of tokens be forced without a decode step.
Points are integers inside the frame the parser checks them against (0..width, 0..height, or
0..1000 for relative coordinates).

Free text (the UI-TARS thought, the text an action types or reports) is a rule of its own:
``thought``, ``py_body``, ``json_body``. Unbounded (``TextLimits`` None), a model that never
chooses to end it (a random one; a trained one off its format) writes until the token cap and
the answer never closes: the local decoder closes such answers itself (``GrammarSpec.closers()``),
a server cannot. So for servers the free text is bounded (grammar/budget.py sizes the bounds to
fit the answer inside ``--max-new-tokens``), in one of two units:

- ``tokens``: xgrammar's rule attribute ``thought[max_tokens=N] ::= ...`` (xgrammar 0.2.6 and
  later; vLLM 0.32 ships 0.2.8). It is a counter in the matcher, not N grammar positions: with
  Qwen's vocabulary the whole UI-TARS grammar compiled in 67 ms and masked in 0.58 ms per token
  (median), as fast as the unbounded one, and once N tokens are spent the text must end;
- ``chars``: a plain repetition ``thought_char{1,N}``, for engines that do not read the attribute
  (regular expressions, older xgrammar). Every repetition position is compiled separately:
  ``{1,100}`` took 6.0 s and ``{1,200}`` 11.1 s to compile, against 75 ms unbounded (2 CPU cores,
  benchmarks/bench_text_bounds.py; masks stayed under 1 ms).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Literal, get_args

from ....tools.dialects.qwen_schema import ACTION_TABLES, FUNCTION_NAMES, SYSTEM_BUTTONS, QwenAction
from ....tools.frames import RELATIVE_SCALE
from ....tools.keys import NAMED_KEYS

GrammarDialect = Literal["qwen", "uitars"]
GRAMMAR_DIALECTS: tuple[str, ...] = get_args(GrammarDialect)  # the dialects whose answers have a grammar here
TextUnit = Literal["tokens", "chars"]

# Key names a hotkey may use: the canonical named keys and single letters and digits.
_KEY_NAMES = sorted(NAMED_KEYS)
# Parameters the Qwen parser reads beyond its table: a drag given both ends (qwen_schema._build_plain).
_EXTRA_OPTIONAL = {"left_click_drag": ("coordinate2",)}
_UITARS_DIRECTIONS = ("down", "up", "right", "left")
_UITARS_POINT_CALLS = ("click", "left_double", "right_single", "long_press")
_UITARS_BARE_CALLS = ("press_home", "press_back", "wait", "call_user")


@dataclass(frozen=True)
class TextLimits:
    """How long an answer's free text may be: the UI-TARS thought, and the text one action carries."""

    unit: TextUnit
    thought: int
    text: int

    def __post_init__(self) -> None:
        if min(self.thought, self.text) < 1:
            raise ValueError(f"free-text limits must be at least 1 {self.unit}, not {self.thought} and {self.text}")


@dataclass(frozen=True)
class GrammarSpec:
    """Which format, the frame its points must lie in, and how long its free text may be (None: unbounded)."""

    dialect: GrammarDialect
    width: int
    height: int
    limits: TextLimits | None = None

    @classmethod
    def from_name(cls, name: str, width: int, height: int) -> GrammarSpec:
        """The spec for a settings grammar name ("qwen", "uitars-relative" ...) and the image's frame."""
        dialect, _, scale = name.partition("-")
        if dialect not in GRAMMAR_DIALECTS or scale not in ("", "relative"):
            raise ValueError(f"no answer grammar named {name!r}")
        if scale == "relative":
            width, height = relative_extent()
        return cls(dialect, width, height)  # type: ignore[arg-type]

    def closers(self) -> tuple[str, ...]:
        """Texts that end an answer cut short inside free text (tried in order when the token budget runs out)."""
        if self.dialect == "qwen":
            return ('"}}\n</tool_call>', 'n"}}\n</tool_call>')
        return ("\nAction: wait()", "')", "n')")


def ebnf(spec: GrammarSpec) -> str:
    """The whole grammar for ``spec``, root rule first."""
    rules = qwen_rules(spec) if spec.dialect == "qwen" else uitars_rules(spec)
    rules.update(_shared_rules(spec))
    return "\n".join(f"{name} ::= {body}" for name, body in rules.items())


# The rules holding free text: the limit that bounds each, and the rule of one of its characters.
FREE_TEXT_RULES = {
    "thought": ("thought", "thought_char"),
    "py_body": ("text", "py_char"),
    "json_body": ("text", "json_char"),
}


def _free_text(name: str, char_rule: str, limits: TextLimits | None) -> tuple[str, str]:
    """The rule (its name, attribute included, and its body) of one free text: ``char_rule`` repeated."""
    if limits is None:
        return name, f"{char_rule}+"
    limit = limits.thought if FREE_TEXT_RULES[name][0] == "thought" else limits.text
    if limits.unit == "tokens":
        return f"{name}[max_tokens={limit}]", f"{char_rule}+"
    return name, f"{char_rule}{{1,{limit}}}"


def _lit(text: str) -> str:
    """An EBNF string literal (JSON escaping is a subset of what xgrammar reads)."""
    return json.dumps(text, ensure_ascii=False)


def _shared_rules(spec: GrammarSpec) -> dict[str, str]:
    return {
        "x": int_up_to(spec.width),
        "y": int_up_to(spec.height),
        "key_name": " | ".join([*(_lit(k) for k in _KEY_NAMES), "[a-z0-9]"]),
        # 0.1 .. 59.9: valid for wait (<= 600) and long_press (0 < t <= 60)
        "seconds": '([1-9] | [1-5] [0-9]) ("." [0-9])? | "0." [1-9]',
    }


# -- Qwen --------------------------------------------------------------------------------------------------


def _qwen_value(param: str) -> str:
    """The grammar of one Qwen parameter's JSON value."""
    match param:
        case "coordinate" | "coordinate2":
            return '"[" x ", " y "]"'
        case "keys":
            return '"[" json_key (", " json_key){0,3} "]"'
        case "pixels":
            return '"-"? [1-9] [0-9]{0,3}'
        case "time":
            return "seconds"
        case "button":
            return "(" + " | ".join(_lit(json.dumps(name)) for name in SYSTEM_BUTTONS) + ")"
        case "status":
            return '("\\"success\\"" | "\\"failure\\"")'
        case _:  # text, and any parameter added later: a JSON string
            return "json_text"


def _qwen_action(entry: QwenAction, device: str) -> str:
    """One action's arguments object: "action" first, then its parameters in any order (models and
    our own history formatter do not agree on one), each optional one present or not."""
    items = []
    for param in (*entry.fields, *_EXTRA_OPTIONAL.get(entry.name, ())):
        value = "json_key_text" if (device == "mobile" and entry.name == "key") else _qwen_value(param)
        item = f"{_lit(', ' + json.dumps(param) + ': ')} {value}"
        items.append(f"({item})?" if param in entry.optional or param not in entry.fields else item)
    orders = [" ".join(order) for order in itertools.permutations(items)] or [""]
    head = _lit('"action": ' + json.dumps(entry.name))
    return f"{head} ({' | '.join(f'({order})' for order in orders)})" if items else head


def qwen_rules(spec: GrammarSpec) -> dict[str, str]:
    rules = {"root": " | ".join(f"call_{device}" for device in ACTION_TABLES)}
    for device, table in ACTION_TABLES.items():
        head = _lit(f'<tool_call>\n{{"name": "{FUNCTION_NAMES[device]}", "arguments": {{')
        rules[f"call_{device}"] = f"{head} args_{device} {_lit('}}' + chr(10) + '</tool_call>')}"
        rules[f"args_{device}"] = " | ".join(f"({_qwen_action(entry, device)})" for entry in table)
    rules["json_key"] = '"\\"" key_name "\\""'
    # mobile_use's key action names the key in `text`: a key name or one of the system buttons.
    buttons = " | ".join(_lit(name) for name in SYSTEM_BUTTONS)
    rules["json_key_text"] = f'"\\"" (key_name | {buttons}) "\\""'
    rules["json_text"] = '"\\"" json_body "\\""'
    rules.update([_free_text("json_body", "json_char", spec.limits)])
    # No raw "<" in the text: a tool-call tag in it would end the call for the parser. It is written
    # "\u003c" (JSON's escape of "<"), which reads back as "<".
    rules["json_char"] = '[^"\\\\\\x00-\\x1f<] | "\\\\" ["\\\\/nt] | "\\\\u003c"'
    return rules


# -- UI-TARS -----------------------------------------------------------------------------------------------


def uitars_rules(spec: GrammarSpec) -> dict[str, str]:
    point_calls = " | ".join(f'{_lit(name + "(start_box=")} box ")"' for name in _UITARS_POINT_CALLS)
    directions = " | ".join(_lit(f"'{d}'") for d in _UITARS_DIRECTIONS)
    calls = [
        point_calls,
        '"drag(start_box=" box ", end_box=" box ")"',
        '"hotkey(key=\'" key_name (" " key_name){0,2} "\')"',
        '"type(content=" py_text ")"',
        f'"scroll(start_box=" box ", direction=" ({directions}) ")"',
        '"open_app(app_name=" py_text ")"',
        '"finished(content=" py_text ")"',
        *(_lit(name + "()") for name in _UITARS_BARE_CALLS),
    ]
    return dict(
        [
            ("root", '"Thought: " thought "\\nAction: " call'),
            _free_text("thought", "thought_char", spec.limits),
            ("call", " | ".join(f"({call})" for call in calls)),
            ("box", '"\'(" x "," y ")\'"'),
            ("thought_char", "[^\\n\\r]"),
            ("py_text", '"\'" py_body "\'"'),
            _free_text("py_body", "py_char", spec.limits),
            ("py_char", '[^\'\\\\\\n\\r] | "\\\\" [\'\\"\\\\n]'),
        ]
    )


# -- numbers -----------------------------------------------------------------------------------------------


def int_up_to(limit: int) -> str:
    """EBNF for the decimal integers 0..limit, without leading zeros."""
    if limit < 0:
        raise ValueError(f"no integers in 0..{limit}")
    digits = str(limit)
    shorter = ['"0"'] if len(digits) > 1 else []
    if len(digits) > 2:
        shorter.append(f"[1-9] [0-9]{{0,{len(digits) - 2}}}")
    elif len(digits) == 2:
        shorter.append("[1-9]")
    return " | ".join(shorter + [f"({_at_most(digits, first=True)})"])


def _at_most(digits: str, *, first: bool) -> str:
    """Strings of exactly len(digits) digits whose value is <= digits (no leading zero when ``first``)."""
    top = int(digits[0])
    low = 1 if first and len(digits) > 1 else 0
    rest = len(digits) - 1
    options = []
    if top - 1 >= low:
        tail = f" [0-9]{{{rest}}}" if rest else ""
        options.append(f"[{low}-{top - 1}]{tail}")
    options.append(_lit(digits[0]) + (f" ({_at_most(digits[1:], first=False)})" if rest else ""))
    return " | ".join(options)


def relative_extent() -> tuple[int, int]:
    """The coordinate bound of relative (0..1000) answers on both axes."""
    return RELATIVE_SCALE, RELATIVE_SCALE
