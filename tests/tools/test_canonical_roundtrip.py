"""Canonical text <-> action: exact inverses for every action kind and any Unicode text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_gui_agent.tools.actions import ACTION_TYPES, Drag, Finished, Hotkey, Point, Scroll, Type
from qwen_gui_agent.tools.canonical import format_action, parse_action, quote
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.vocabulary import CANONICAL_FORMS
from tests.tools.tools_strategies import actions, points, unicode_text


@settings(max_examples=600, deadline=None)
@given(actions())
def test_text_action_text_is_identity(action):
    text = format_action(action)
    parsed = parse_action(text)
    assert parsed == action
    assert format_action(parsed) == text


@given(unicode_text)
def test_quote_reads_back_with_literal_eval(text):
    import ast

    assert ast.literal_eval(quote(text)) == text


FRAME = ModelFrame(width=4000, height=4000)


@settings(max_examples=300, deadline=None)
@given(actions(points(4000, 4000, min_value=0)), st.sampled_from(["qwen", "uitars"]))
def test_both_dialects_read_canonical_text(action, dialect):
    """Models drift into the canonical (UI-TARS) form: both parsers accept it exactly."""
    parsed = get_dialect(dialect).parse(f"Thought: go\nAction: {format_action(action)}", FRAME)
    assert parsed.actions == (action,)


def test_every_action_kind_has_a_documented_form():
    for kind in ACTION_TYPES:
        assert any(form.startswith(kind + "(") for form in CANONICAL_FORMS), kind


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("click(start_box='(512,384)')", None),
        ("type(content='hello\\n')", Type(text="hello", submit=True)),
        ("type(content='a\\n\\n')", Type(text="a\n", submit=True)),
        ("hotkey(key='Control+Shift+T')", Hotkey(keys=("ctrl", "shift", "t"))),
        ("drag(end_box='(5,6)')", Drag(end=Point(x=5, y=6))),
        ("scroll(direction='DOWN')", Scroll(direction="down")),
        ("finished(content='no', status='failure')", Finished(status="failure", message="no")),
        ("left_single(start_box='[10,10,20,30]')", None),
    ],
)
def test_known_texts(text, expected):
    action = parse_action(text)
    if expected is not None:
        assert action == expected
    assert parse_action(format_action(action)) == action


def test_trailing_newline_is_submit_exactly_once():
    assert Type(text="a\n") == Type(text="a", submit=True)
    assert format_action(Type(text="a\n", submit=True)) == "type(content='a\\n\\n')"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("click()", ["click needs its start", "start_box"]),
        ("click(start_box='(1,2)', colour='red')", ["no argument 'colour'"]),
        ("jump(start_box='(1,2)')", ["unknown action 'jump'", "click(start_box="]),
        ("click('(1,2)')", ["by name"]),
        ("click(start_box=__import__('os'))", ["not a literal"]),
        ("scroll(direction='sideways')", ["direction", "scroll(start_box="]),
        ("click(start_box='(1,2)'", ["not a function call"]),
        ("click(start_box='here')", ["cannot read a point", "(x,y)"]),
        ("wait(seconds=-1)", ["bad arguments for wait"]),
    ],
)
def test_errors_say_what_is_wrong_and_what_is_expected(text, words):
    with pytest.raises(ActionParseError) as caught:
        parse_action(text)
    message = caught.value.feedback()
    assert message.startswith("Your answer could not be used:")
    for word in words:
        assert word in message


UNKNOWN_KEY_ANSWERS = {
    "canonical": "hotkey(key='ctrl frobnicate')",
    "uitars": "Thought: save\nAction: hotkey(key='ctrl frobnicate')",
    "qwen": '<tool_call>{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "frobnicate"]}}'
    "</tool_call>",
}


@pytest.mark.parametrize("form", sorted(UNKNOWN_KEY_ANSWERS))
def test_an_unknown_key_is_one_clean_sentence_for_the_model(form):
    """A key validator's own ActionParseError is passed on, not nested in pydantic's "Value error, ..." text."""
    answer = UNKNOWN_KEY_ANSWERS[form]
    with pytest.raises(ActionParseError) as raised:
        if form == "canonical":
            parse_action(answer)
        else:
            get_dialect(form).parse(answer, ModelFrame(width=1000, height=1000))
    feedback = raised.value.feedback()
    assert feedback.startswith("Your answer could not be used: unknown key 'frobnicate'. Expected: key names such as")
    assert feedback.count("Your answer could not be used") == 1 and feedback.count("Expected:") == 1
    assert "Value error" not in feedback
    assert raised.value.describe().startswith("unknown key 'frobnicate'; expected: key names such as")


def test_other_bad_arguments_still_name_the_field():
    with pytest.raises(ActionParseError) as raised:
        parse_action("wait(seconds=-3)")
    assert raised.value.problem.startswith("bad arguments for wait: seconds: Input should be greater than")
