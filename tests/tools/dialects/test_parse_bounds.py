"""Parse work on pathological answers is bounded by structure, not measured by a clock (issue 16, item 7).

The costly steps (``ast.parse`` of a call, the free-text point patterns of a
grounding answer) are counted: a hostile answer is refused by a cheap count
before they run. The JSON shape check walks with a stack, so even a value
nested far past Python's recursion limit is judged without recursing.
"""

from __future__ import annotations

import ast
import re

import pytest

from qwen_gui_agent.tools import canonical
from qwen_gui_agent.tools.dialects import get_dialect, grounding
from qwen_gui_agent.tools.dialects.tool_calls import MAX_JSON_DEPTH, json_shape_problem
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame

FRAME = ModelFrame(width=1932, height=1092)


class CountingAst:
    """The ``ast`` module as canonical sees it, counting how often ``parse`` runs."""

    def __init__(self) -> None:
        self.parses = 0

    def __getattr__(self, name: str) -> object:
        return getattr(ast, name)

    def parse(self, *args: object, **kwargs: object) -> ast.AST:
        self.parses += 1
        return ast.parse(*args, **kwargs)


class CountingPattern:
    def __init__(self, pattern: re.Pattern[str], counts: list[int]) -> None:
        self.pattern, self.counts = pattern, counts

    def search(self, text: str) -> re.Match[str] | None:
        self.counts.append(len(text))
        return self.pattern.search(text)


@pytest.fixture
def counting_ast(monkeypatch) -> CountingAst:
    counter = CountingAst()
    monkeypatch.setattr(canonical, "ast", counter)
    return counter


@pytest.fixture
def loose_searches(monkeypatch) -> list[int]:
    counts: list[int] = []
    monkeypatch.setattr(grounding, "_LOOSE_POINTS", tuple(CountingPattern(p, counts) for p in grounding._LOOSE_POINTS))
    return counts


@pytest.mark.parametrize("dialect", ["qwen", "uitars"])
@pytest.mark.parametrize(
    "answer",
    ["click(start_box=" + "1+" * 3980, "Action: click(start_box=" + "1+" * 3980 + "1)"],
    ids=["unclosed", "closed"],
)
def test_a_call_of_thousands_of_operators_never_reaches_ast(dialect, answer, counting_ast):
    with pytest.raises(ActionParseError):  # the closed one ends in the lenient reader, which uses no ast
        get_dialect(dialect).parse(answer, FRAME)
    assert counting_ast.parses == 0
    with pytest.raises(ActionParseError, match="more than 500 characters outside its quoted values"):
        canonical.parse_call(answer.removeprefix("Action: "))


def test_long_quoted_text_is_still_a_call(counting_ast):
    text = "type(content='" + "1+" * 3000 + "')"
    assert canonical.parse_action(text).text == "1+" * 3000
    assert counting_ast.parses == 1


@pytest.mark.parametrize("dialect", ["qwen", "uitars"])
@pytest.mark.parametrize("tag", ["<|box_start|>", "<point>", "<|box_end|>"])
def test_hundreds_of_tags_are_refused_before_any_pattern_runs(dialect, tag, loose_searches):
    with pytest.raises(ActionParseError, match="more than 32 times"):
        get_dialect(dialect).parse_grounding(tag * 600, FRAME)
    assert loose_searches == []


def test_a_few_tags_still_ground(loose_searches):
    [hit] = get_dialect("uitars").parse_grounding("the button <|box_start|>(12,34)<|box_end|>", FRAME)
    assert (hit.point.x, hit.point.y) == (12, 34) and loose_searches


def test_the_json_shape_check_does_not_recurse():
    value: list = [10, 10]
    for _ in range(100_000):  # far past the interpreter's recursion limit
        value = [value]
    assert json_shape_problem(value) == f"is nested more than {MAX_JSON_DEPTH} levels deep"
    assert json_shape_problem({"pixels": 10**400}) == "holds a number of 401 digits"
    assert json_shape_problem({"coordinate": [10**15, -(10**15)], "ok": True}) == ""
