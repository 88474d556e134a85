"""Fuzz every dialect's parser with >= 10,000 malformed or adversarial answers.

Each answer must end in a valid action or ActionParseError, never another
exception. The answers come from a seeded generator (reproducible), built from
real answers of every dialect (qwen, uitars, and the Qwen3 generation's qwen3 /
qwen3.5 / guiowl: JSON and XML calls, ``Thought:``/``Action:`` prose before them,
``<think>`` parts) and then broken the ways models break them.

No wall-clock limit here (a loaded machine would fail it): parse time is
bounded by the input's size (answers over MAX_ANSWER_CHARS are refused before
any pattern runs) and by structure: the costly steps are watched (the syntax
trees ``ast.parse`` builds, the text the loose point patterns of grounding
search), and their work per answer must stay under a bound that does not grow
with the answer. ``tests/tools/bench_parsers.py`` measures the time itself.
"""

from __future__ import annotations

import ast
import json
import random
import re

import pytest

from qwen_gui_agent.tools import canonical
from qwen_gui_agent.tools.dialects import get_dialect, grounding
from qwen_gui_agent.tools.dialects.base import MAX_ANSWER_CHARS, MAX_TAG_REPEATS, ParsedAnswer, PromptContext
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame

ANSWERS = 10_500
# The most syntax-tree nodes one call may cost: a real call has a few dozen; the cap on the code outside quoted
# values (canonical.MAX_CALL_CODE, 500 characters) bounds it whatever the answer holds.
MAX_TREE_NODES = 1_000
FRAME = ModelFrame(width=1932, height=1092)
FRAME_RELATIVE = ModelFrame(width=1932, height=1092, relative=True)
FRAME_999 = ModelFrame(width=1920, height=1088, relative=True, relative_scale=999)  # Qwen3-VL / Qwen3.5
DIALECTS = ("qwen", "uitars", "qwen3", "qwen3.5", "guiowl")


def _qwen(arguments: dict[str, object], name: str = "computer_use") -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) + "\n</tool_call>"


SEEDS = [
    _qwen({"action": "left_click", "coordinate": [100, 200]}),
    _qwen({"action": "type", "text": 'He said "hi" \\ 中文 😀\n'}),
    _qwen({"action": "key", "keys": ["ctrl", "shift", "t"]}),
    _qwen({"action": "scroll", "pixels": -300, "coordinate": [960, 540]}),
    _qwen({"action": "left_click_drag", "coordinate": [500, 500]}),
    _qwen({"action": "terminate", "status": "success"}),
    _qwen({"action": "swipe", "coordinate": [500, 900], "coordinate2": [500, 100]}, "mobile_use"),
    _qwen({"action": "system_button", "button": "Home"}, "mobile_use"),
    _qwen({"action": "open", "text": "微信"}, "mobile_use"),
    _qwen({"action": "long_press", "coordinate": [10, 10], "time": 2}, "mobile_use"),
    "Thought: open the menu\nAction: click(start_box='<|box_start|>(235,512)<|box_end|>')",
    "Thought: type it\nAction: type(content='It\\'s \"quoted\"\\n')",
    "Thought: 滚动\nAction: scroll(start_box='(960,540)', direction='down')",
    "Action: drag(start_box='(10,10)', end_box='(300,40)')",
    "Action: hotkey(key='ctrl c')\n\nAction: hotkey(key='ctrl v')",
    "Action: click(start_box='[10,20,30,40]')\n\ntype(content='abc\\n')",
    "Action: left_double(start_box='<point>100 200</point>')",
    "Reflection: it failed\nAction_Summary: retry\nAction: right_single(start_box='(5,5)')",
    "Action: finished(content='Done: booked \\'CA1234\\'')",
    "Action: type(content='It's broken \"quotes\"\nand a raw newline')",
    "Action: open_app(app_name='Settings')\n\npress_home()\n\npress_back()\n\nwait()\n\ncall_user()",
    '```json\n[{"bbox_2d": [10, 20, 110, 220], "label": "Search"}]\n```',
    # The Qwen3 generation: prose first, JSON or XML calls, its own actions, thinking parts.
    "Thought: the field is empty\nAction: click the Name field\n"
    + _qwen({"action": "left_click", "coordinate": [512, 300]}),
    "Action: select the line\n" + _qwen({"action": "triple_click", "coordinate": [999, 999]}),
    _qwen({"action": "hscroll", "pixels": -4, "coordinate": [500, 500]}),
    _qwen({"action": "answer", "text": "The total is 42 €"}),
    _qwen({"action": "interact", "text": "Which account?"}, "mobile_use"),
    "<think>The menu is closed, so open it first.</think>\nThought: open it\nAction: open the menu\n"
    + _qwen({"action": "key", "keys": ["alt", "f"]}),
    "<tool_call>\n<function=computer_use>\n<parameter=action>\nleft_click\n</parameter>\n"
    "<parameter=coordinate>\n[250, 750]\n</parameter>\n</function>\n</tool_call>",
    "Thought: type\nAction: type it\n<tool_call>\n<function=computer_use>\n<parameter=action>\ntype\n"
    '</parameter>\n<parameter=text>\nline one\nline "two" </parameter>\n</function>\n</tool_call>',
    "<tool_call><function=mobile_use><parameter=action>swipe</parameter><parameter=coordinate>[500, 900]"
    "</parameter><parameter=coordinate2>[500, 100]</parameter></function></tool_call>",
    "<tool_call>\n{'name': 'computer_use', 'arguments': {'action': 'double_click', 'coordinate': [1, 2],},}\n"
    "</tool_call>",
    "Action: hotkey(key='page down')\n\nAction: click(start_box='((100,200))')",
]

PROMPT_ECHO = [
    get_dialect("uitars").instruction_prompt(PromptContext(task="book a flight", frame=FRAME)),
    get_dialect("qwen").system_prompt("computer", FRAME),
    get_dialect("qwen").system_prompt("mobile", FRAME),
    get_dialect("qwen3").system_prompt("computer", FRAME_999),
    get_dialect("qwen3.5").system_prompt("mobile", FRAME_999),
    get_dialect("guiowl").system_prompt("computer", FRAME_RELATIVE),
]

NASTY_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "-1",
    "-0",
    "99999999999999999999",
    "1" * 5000,
    "0.5",
    "1e7",
    "3.4e38",
    "2000",
    "1093",
    "true",
    "null",
    '"12"',
    "[]",
    "{}",
    "[1]",
    "[1,2,3]",
    '"(1,2)"',
    "-1e-400",
    "1" + "0" * 400,
    "-1" + "0" * 400,
    "1" + "0" * 16,
    "1e400",
    "[" * 976 + "10, 10" + "]" * 976,
]
# Shapes from the hardening audit (issue 16): huge numbers where a float() overflows, values nested
# deeper than repr can go, tags repeated hundreds of times, and calls whose code is thousands of operators.
HOSTILE_SHAPES = [
    _qwen({"action": "scroll", "coordinate": [10, 10], "pixels": 10**400}),
    _qwen({"action": "scroll", "coordinate": [10, 10], "pixels": -(10**400)}, "mobile_use"),
    _qwen({"action": "wait", "time": 10**400}),
    _qwen({"action": "left_click", "coordinate": [10**400, 10]}),
    '{"action": "scroll", "pixels": 1' + "0" * 400 + "}",
    "Action: scroll(start_box='(10,10)', direction='down', amount=1" + "0" * 400 + ")",
    '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": '
    + "[" * 976
    + "10, 10"
    + "]" * 976
    + "}}</tool_call>",
    '[{"bbox_2d": ' + "[" * 976 + "1, 2, 3, 4" + "]" * 976 + "}]",
    '{"coordinate": ' + "[" * 976 + "10, 10" + "]" * 976 + "}",
    "click(start_box=" + "1+" * 3980,
    "Action: click(start_box=" + "1+" * 3980 + "1)",
    "<|box_start|>" * 600,
    "<|box_start|>(1,1)" * 600,
    "<point>" * 600,
    "<tool_call>" * 600,
    "Action: click(start_box='" + "<|box_start|>" * 600 + "(1,1)')",
]
NASTY_TEXT = [
    "'",
    '"',
    "\\",
    "\\'",
    '\\"',
    "\n",
    "\n\n",
    ")",
    "(",
    "((((",
    "))))",
    "{",
    "}",
    "[",
    "]",
    "<tool_call>",
    "</tool_call>",
    "Action:",
    "Thought:",
    "```",
    "<|box_start|>",
    "<|box_end|>",
    "<point>",
    "</point>",
    "=",
    ",",
    "\x00",
    "\u2028",
    "😀",
    "中文",
    "%s",
    "{{",
    "__import__('os')",
    "lambda: 0",
    "click(",
    "type(content='",
    "start_box=",
    '"arguments": ',
    '"action": "',
    "\t",
    "\r",
    "0" * 200,
    "<think>",
    "</think>",
    "<function=computer_use>",
    "<function=",
    "</function>",
    "<parameter=action>",
    "<parameter=",
    "</parameter>",
]
UNKNOWN_NAMES = ["frobnicate", "quadruple_click", "computer_use", "", "left_click", "terminate", "exec", "os.system"]


def _mutate(rng: random.Random, text: str) -> str:
    choice = rng.randrange(13)
    if choice == 0:  # truncated
        return text[: rng.randrange(len(text) + 1)]
    if choice == 1:  # an inserted nasty fragment
        at = rng.randrange(len(text) + 1)
        return text[:at] + rng.choice(NASTY_TEXT) + text[at:]
    if choice == 2:  # numbers replaced by nasty ones
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        if digits:
            at = rng.choice(digits)
            return text[:at] + rng.choice(NASTY_NUMBERS) + text[at + 1 :]
        return text + rng.choice(NASTY_NUMBERS)
    if choice == 3:  # action names swapped for unknown or foreign ones
        for known in ("left_click", "click", "type", "scroll", "key", "swipe", "hotkey", "drag", "answer"):
            if known in text:
                return text.replace(known, rng.choice(UNKNOWN_NAMES), 1)
        return rng.choice(UNKNOWN_NAMES) + "(" + text
    if choice == 4:  # markdown fences and prose around
        return f"Sure! Here you go:\n```{rng.choice(['', 'json', 'python'])}\n{text}\n```\nHope that helps."
    if choice == 5:  # mixed dialects in one answer
        return text + "\n\n" + rng.choice(SEEDS)
    if choice == 6:  # prompt text echoed back
        echo = rng.choice(PROMPT_ECHO)
        return echo[: rng.randrange(len(echo) + 1)] + "\n" + text
    if choice == 7:  # deep nesting
        depth = rng.choice([50, 500, 5000])
        return rng.choice(["[", "{", "(", '{"a":']) * depth + text
    if choice == 8:  # random characters deleted
        chars = list(text)
        for _ in range(rng.randrange(1, 6)):
            if chars:
                del chars[rng.randrange(len(chars))]
        return "".join(chars)
    if choice == 9:  # random bytes of Unicode
        return "".join(chr(rng.randrange(1, 0x2FFFF)) for _ in range(rng.randrange(1, 60)))
    if choice == 12:  # a hostile shape, alone or around the answer
        shape = rng.choice(HOSTILE_SHAPES)
        return rng.choice([shape, text + "\n" + shape, shape + "\n" + text])
    if choice == 10:  # wrong JSON types for every parameter
        key = rng.choice(["coordinate", "coordinate2", "keys", "text", "pixels", "time", "status", "button", "action"])
        value = json.loads(rng.choice(['"x"', "5", "[]", "{}", "[1]", "[true,false]", "null", '["a","b"]', "-7"]))
        action = rng.choice(
            [
                "left_click",
                "key",
                "type",
                "scroll",
                "wait",
                "terminate",
                "swipe",
                "system_button",
                "triple_click",
                "hscroll",
                "answer",
                "interact",
            ]
        )
        return _qwen({"action": action, key: value}, rng.choice(["computer_use", "mobile_use", "other"]))
    return text * rng.randrange(2, 4)  # repeated


def _filled(prefix: str, unit: str, suffix: str = "") -> str:
    """An answer just under the parsers' size bound, made of one repeated pattern."""
    repeats = (MAX_ANSWER_CHARS - 10 - len(prefix) - len(suffix)) // len(unit)
    return prefix + unit * repeats + suffix


# The worst cases found by hand for each code path, at the largest size the parsers accept.
EXTREMES = [
    _filled("Action: type(content='x", "', text='a", "')"),
    _filled("Action: type(content='x", "', text='", ")"),
    _filled("Action: type(content='", "it's ", "')"),
    _filled("Action: click(start_box='(1,2)', ", "content=a, ", ")"),
    _filled("Action: click(", "(", ")"),
    _filled("Action: ", "click(\n"),
    _filled("", "Thought: a\nAction: b\n"),
    _filled("", "{"),
    _filled("", "[", "]"),
    _filled("", "<tool_call>{}"),
    _filled("Action: type(content=", "'", ")"),
    _filled("", '{"a": 1} '),
    _filled("Action: type(content='", "a\\n", "')"),
    _filled('<tool_call>{"name":"computer_use","arguments":{"action":"type","text":"', '\\"', '"}}'),
    _filled("Action: hotkey(key='", "ctrl ", "')"),
    _filled("Action: click(start_box='(1,2)')\n\n", "wait()\n\n"),
    _filled("Action: finished(content='", "a, key=", "')"),
    _filled("", "(1,2) "),
    _filled("", "<point>1 2</point>"),
    _filled("Thought: ", "x", "\nAction: wait()"),
    _filled("", '[{"bbox_2d": [1,2,3,4]}]'),
    _filled("Action: click(start_box='", "(", "1,2')"),
    _filled("", "<|box_start|>(1,2)<|box_end|>"),
    _filled("<tool_call>", "<function=computer_use>"),
    _filled("<function=computer_use>", "<parameter=action>"),
    _filled("<function=computer_use><parameter=text>", "</parameter"),
    _filled("", "<think>a</think>"),
    _filled("", "Thought: a\nAction: b\n<tool_call>"),
    _filled("Action: click(start_box=", "1+", "1)"),
    _filled("", "<|box_start|>"),
    _filled("", "[", "10, 10"),
    _filled("Action: type(content='", "\\'", "')"),
]


def adversarial_answers(count: int, seed: int = 20240601) -> list[str]:
    rng = random.Random(seed)
    answers = []
    for _ in range(count):
        text = rng.choice(SEEDS)
        for _ in range(rng.randrange(1, 4)):
            text = _mutate(rng, text)
        answers.append(text)
    return answers + EXTREMES


def _frame_for(index: int, dialect_name: str) -> ModelFrame:
    """Each seventh answer is read in a relative frame: 0..999 for the dialects whose models use it."""
    if index % 7:
        return FRAME
    return FRAME_999 if dialect_name in ("qwen3", "qwen3.5") else FRAME_RELATIVE


class TreeWork:
    """``ast`` as canonical sees it, keeping the size of the largest tree it was asked to build."""

    def __init__(self) -> None:
        self.parses = 0
        self.largest = 0

    def __getattr__(self, name: str) -> object:
        return getattr(ast, name)

    def parse(self, *args: object, **kwargs: object) -> ast.AST:
        tree = ast.parse(*args, **kwargs)
        self.parses += 1
        self.largest = max(self.largest, sum(1 for _ in ast.walk(tree)))
        return tree


class SearchWork:
    """A loose point pattern of grounding, adding up the characters it is asked to search."""

    def __init__(self, pattern: re.Pattern[str], searched: list[int]) -> None:
        self.pattern, self.searched = pattern, searched

    def search(self, text: str) -> re.Match[str] | None:
        self.searched.append(len(text))
        return self.pattern.search(text)


@pytest.fixture
def tree_work(monkeypatch) -> TreeWork:
    work = TreeWork()
    monkeypatch.setattr(canonical, "ast", work)
    return work


@pytest.fixture
def searched(monkeypatch) -> list[int]:
    lengths: list[int] = []
    monkeypatch.setattr(grounding, "_LOOSE_POINTS", tuple(SearchWork(p, lengths) for p in grounding._LOOSE_POINTS))
    return lengths


def _checked_parse(dialect, answer: str, frame: ModelFrame) -> str:
    try:
        result = dialect.parse(answer, frame)
    except ActionParseError as error:
        assert error.feedback().startswith("Your answer could not be used:")
        return "error"
    assert isinstance(result, ParsedAnswer) and result.actions
    for action in result.actions:
        for point in action.points():
            frame.check(point)  # a valid result never holds a point outside the frame
    return "ok"


def test_fuzz_every_parser_only_returns_actions_or_parse_errors(tree_work):
    answers = adversarial_answers(ANSWERS)
    assert len(answers) >= 10_000
    outcomes = {name: {"ok": 0, "error": 0} for name in DIALECTS}
    dialects = [get_dialect(name) for name in DIALECTS]
    for index, answer in enumerate(answers):
        for dialect in dialects:
            outcomes[dialect.name][_checked_parse(dialect, answer, _frame_for(index, dialect.name))] += 1
    # The corpus must exercise both outcomes substantially in every dialect, or it tests nothing.
    for name, counts in outcomes.items():
        assert counts["ok"] > 1000 and counts["error"] > 1000, (name, counts)
    # No answer, however built, made a call cost more than a bounded tree (3,980 "1+" once built 8,000 nodes).
    assert tree_work.parses > 1000 and 0 < tree_work.largest <= MAX_TREE_NODES, (tree_work.parses, tree_work.largest)


def test_the_extremes_fill_the_size_bound_and_a_longer_answer_is_refused_unread():
    """What bounds a parse's work is the answer's size: the extremes sit just under it, one more repeat is over."""
    assert all(MAX_ANSWER_CHARS - 200 < len(answer) <= MAX_ANSWER_CHARS for answer in EXTREMES)
    for dialect in [get_dialect(name) for name in DIALECTS]:
        for answer in EXTREMES:
            too_long = answer + " " * (MAX_ANSWER_CHARS + 1 - len(answer))
            try:
                dialect.parse(too_long, FRAME)
            except ActionParseError as error:
                assert f"longer than {MAX_ANSWER_CHARS}" in error.problem
            else:
                raise AssertionError(f"{dialect.name} parsed an answer over the bound")


def test_fuzz_grounding_parsers_only_return_hits_or_parse_errors(searched):
    hits = 0
    patterns = len(grounding._LOOSE_POINTS)
    for answer in adversarial_answers(2000, seed=7):
        for dialect in [get_dialect(name) for name in DIALECTS]:
            searched.clear()
            try:
                found = dialect.parse_grounding(answer, FRAME)
            except ActionParseError:
                found = None
            # Each loose pattern searches the (bounded) answer at most once: no pass per tag or per match.
            assert len(searched) <= patterns and all(length <= MAX_ANSWER_CHARS for length in searched)
            if searched:
                assert max(answer.count(tag) for tag in ("<|box_start|>", "<point>")) <= MAX_TAG_REPEATS
            if found is None:
                continue
            assert found and all(0 <= h.point.x <= FRAME.width and 0 <= h.point.y <= FRAME.height for h in found)
            hits += 1
    assert hits > 100


def _at_depth(levels: int, call):
    """``call()`` run ``levels`` frames down: `agent run` parses with a deeper stack than a test does."""
    return call() if levels == 0 else _at_depth(levels - 1, call)


def test_hostile_shapes_are_parse_errors_in_both_dialects_at_any_stack_depth():
    for dialect in (get_dialect("qwen"), get_dialect("uitars")):
        for answer in HOSTILE_SHAPES:
            for levels in (0, 600):
                for parse in (dialect.parse, dialect.parse_grounding):
                    try:
                        _at_depth(levels, lambda parse=parse, answer=answer: parse(answer, FRAME))
                    except ActionParseError as error:
                        assert error.feedback().startswith("Your answer could not be used:")
                    else:  # a value nested 976 deep or a 400-digit number is never read as a point
                        raise AssertionError(f"{dialect.name} {parse.__name__} accepted {answer[:80]!r}")
