"""A query's answer checked against a JSON Schema the MCP client sends, through the agent's own query step.

The query step (agent/runtime/queries.py) sends the model a pydantic type's
JSON Schema and validates the answer with it. Here the schema comes as JSON
from the client, so the type is "any JSON value", validated by ``jsonschema``
against exactly that schema and described to the model by it. A value that
does not fit goes back to the model with jsonschema's reasons, as for any
query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from jsonschema import SchemaError, validators
from pydantic import AfterValidator, TypeAdapter, WithJsonSchema
from pydantic_core import PydanticCustomError

ANY_JSON: dict[str, Any] = {}  # the empty schema: any JSON value


class BadSchema(ValueError):
    """The client's schema is not a JSON Schema."""


def answer_adapter(schema: Mapping[str, Any] | None) -> TypeAdapter[Any]:
    """A pydantic adapter whose JSON Schema is ``schema`` and whose validation is jsonschema's."""
    document = dict(schema) if schema is not None else ANY_JSON
    checker_class = validators.validator_for(document)
    try:
        checker_class.check_schema(document)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.path)
        raise BadSchema(f"schema{'/' + where if where else ''}: {error.message}") from None
    checker = checker_class(document)

    def fits(value: Any) -> Any:
        problems = sorted(checker.iter_errors(value), key=lambda error: list(error.absolute_path))
        if problems:
            described = "; ".join(_describe(problem.absolute_path, problem.message) for problem in problems)
            # A custom error keeps the reasons as they are (a plain ValueError would read "Value error, ...").
            raise PydanticCustomError("json_schema", "{problems}", {"problems": described})
        return value

    return TypeAdapter(Annotated[Any, AfterValidator(fits), WithJsonSchema(document)])


def _describe(path: Any, message: str) -> str:
    where = ".".join(str(part) for part in path)
    return f"{where}: {message}" if where else message
