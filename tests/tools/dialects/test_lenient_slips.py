"""Slips other frameworks accept (Qwen-Agent, the UI-TARS action parser): each repaired, and nothing more."""

from __future__ import annotations

import pytest

from qwen_gui_agent.tools.actions import Click, Hotkey, Point, Type
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.keys import normalize_keys
from qwen_gui_agent.tools.lenient import loads_lenient_json, unwrap_point_text

FRAME = ModelFrame(width=1932, height=1092)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("{'action': 'left_click', 'coordinate': [1, 2],}", {"action": "left_click", "coordinate": [1, 2]}),
        ('{"keys": ["ctrl", "c",],}', {"keys": ["ctrl", "c"]}),
        ("{'text': 'it\\'s \"quoted\"'}", {"text": 'it\'s "quoted"'}),
        ('{"text": "a, }"}', {"text": "a, }"}),  # a comma inside a string is text, not a trailing comma
    ],
)
def test_single_quotes_and_trailing_commas_are_repaired(text, value):
    assert loads_lenient_json(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "{'text': 'never closed}",  # truncation is not a slip
        "{action: 'left_click'}",  # unquoted keys: a JSON5 extension we do not take
        "{'pixels': 0x10}",
        "{'a': 1 /* comment */}",
    ],
)
def test_other_json5_extensions_stay_errors(text):
    with pytest.raises(ValueError):
        loads_lenient_json(text)


@pytest.mark.parametrize("dialect", ["qwen", "qwen3", "guiowl"])
def test_tool_call_with_single_quotes_and_a_trailing_comma(dialect):
    answer = "<tool_call>\n{'name': 'computer_use', 'arguments': {'action': 'type', 'text': 'hi',},}\n</tool_call>"
    assert get_dialect(dialect, coordinates="absolute").parse(answer, FRAME).actions == (Type(text="hi"),)


@pytest.mark.parametrize(
    ("text", "unwrapped"),
    [
        ("((100,200))", "(100,200)"),
        ("[(1, 2)]", "(1, 2)"),
        ("(((3,4)))", "(3,4)"),
        ("(5,6)", "(5,6)"),
        ("(1,2),(3,4)", "(1,2),(3,4)"),  # two points side by side are not one wrapped point
    ],
)
def test_redundant_brackets_around_a_point_are_peeled(text, unwrapped):
    assert unwrap_point_text(text) == unwrapped


def test_a_non_finite_number_in_a_repaired_call_is_still_refused():
    answer = "<tool_call>{'name': 'computer_use', 'arguments': {'action': 'left_click', 'coordinate': [NaN, 2],}}"
    with pytest.raises(ActionParseError):
        get_dialect("qwen").parse(answer, FRAME)


@pytest.mark.parametrize("dialect", ["qwen", "qwen3", "guiowl"])
def test_a_repaired_call_with_a_huge_number_is_a_parse_error(dialect):
    """Forgiving single quotes must not skip the bounds a strict JSON call gets (this overflowed in scroll)."""
    answer = (
        "<tool_call>{'name': 'computer_use', 'arguments': {'action': 'scroll', 'pixels': 1"
        + "0" * 400
        + ", 'coordinate': [10, 10],}}</tool_call>"
    )
    with pytest.raises(ActionParseError, match="401 digits"):
        get_dialect(dialect, coordinates="absolute").parse(answer, FRAME)


def test_an_xml_parameter_with_a_huge_number_is_a_parse_error():
    answer = (
        "<tool_call>\n<function=computer_use>\n<parameter=action>\nscroll\n</parameter>\n<parameter=pixels>\n"
        "[1" + "0" * 400 + "]\n</parameter>\n</function>\n</tool_call>"
    )
    with pytest.raises(ActionParseError, match="401 digits"):
        get_dialect("qwen3.5").parse(answer, ModelFrame(width=1920, height=1088, relative=True, relative_scale=999))


def test_a_double_bracketed_start_box_clicks_its_point():
    parsed = get_dialect("uitars").parse("Action: click(start_box='((100,200))')", FRAME)
    assert parsed.actions == (Click(point=Point(x=100, y=200)),)


@pytest.mark.parametrize(
    ("spelled", "keys"),
    [
        ("page down", ("pagedown",)),
        ("Page Up", ("pageup",)),
        ("caps lock", ("capslock",)),
        ("ctrl page down", ("ctrl", "pagedown")),
        ("back space", ("backspace",)),
        ("ctrl c", ("ctrl", "c")),
        ("ctrl shift t", ("ctrl", "shift", "t")),  # real chords stay chords
    ],
)
def test_two_word_key_names_are_one_key(spelled, keys):
    assert normalize_keys(spelled) == keys


def test_a_hotkey_answer_with_a_spelled_out_key():
    parsed = get_dialect("uitars").parse("Action: hotkey(key='page down')", FRAME)
    assert parsed.actions == (Hotkey(keys=("pagedown",)),)


def test_an_unknown_two_word_key_is_still_an_error():
    with pytest.raises(ActionParseError):
        normalize_keys("warp drive")
