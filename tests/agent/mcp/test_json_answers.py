"""A query's JSON Schema from the MCP client, as the agent's query step uses a pydantic type."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from qwen_gui_agent.agent.mcp.json_answers import BadSchema, answer_adapter
from qwen_gui_agent.agent.runtime.queries import describe_errors

FLIGHT = {
    "type": "object",
    "properties": {"number": {"type": "string"}, "price": {"type": "number"}},
    "required": ["number", "price"],
    "additionalProperties": False,
}


def test_the_model_is_shown_the_clients_schema_itself():
    assert answer_adapter(FLIGHT).json_schema() == FLIGHT
    assert answer_adapter(None).json_schema() == {}  # no schema: any JSON value


def test_answers_are_checked_against_the_schema_with_reasons_for_the_model():
    adapter = answer_adapter(FLIGHT)
    assert adapter.validate_python({"number": "MU5101", "price": 1280.5}) == {"number": "MU5101", "price": 1280.5}
    with pytest.raises(ValidationError) as error:
        adapter.validate_python({"number": "MU5101", "price": "cheap", "seat": "12A"})
    assert describe_errors(error.value) == (
        "Additional properties are not allowed ('seat' was unexpected); price: 'cheap' is not of type 'number'"
    )
    assert answer_adapter(None).validate_python(["any", 1, None]) == ["any", 1, None]


def test_a_schema_that_is_not_one_is_said_before_the_model_is_asked():
    with pytest.raises(BadSchema, match="schema/properties/price/type"):
        answer_adapter({"type": "object", "properties": {"price": {"type": "money"}}})
