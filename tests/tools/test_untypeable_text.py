"""Text no device can type or record is the model's mistake, caught at parse time."""

from __future__ import annotations

import pytest

from qwen_gui_agent.tools.canonical import parse_action
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame


@pytest.mark.parametrize(
    "text",
    [
        "type(content='a\\ud800b')",
        "finished(content='\\udfff')",
        "call_user(content='x\\udc80')",
        "open_app(app_name='\\ud83d')",
    ],
)
def test_lone_surrogates_are_parse_errors(text):
    with pytest.raises(ActionParseError, match="lone surrogate|unicode string"):
        parse_action(text)


def test_lone_surrogate_in_a_qwen_json_answer_is_a_parse_error():
    answer = '<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "a\\ud800"}}</tool_call>'
    with pytest.raises(ActionParseError, match="lone surrogate"):
        get_dialect("qwen").parse(answer, ModelFrame(1316, 728))


def test_a_json_surrogate_pair_is_one_character_and_fine():
    answer = (
        '<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "\\ud83d\\ude00 ok"}}</tool_call>'
    )
    (action,) = get_dialect("qwen").parse(answer, ModelFrame(1316, 728)).actions
    assert action.text == "\U0001f600 ok"
