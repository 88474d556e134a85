"""The ``schema:`` of a task file's ``query`` step: the shape of the answer, in a few words of YAML.

    schema: number                      # a type name: string, number, integer, boolean, any
    schema: string?                     # ? allows null (the screen may not show it)
    schema: [string]                    # a list of that type
    schema: {flight: string, price: number}   # an object with these fields, all required

The spec becomes a Python type that pydantic validates the model's answer
against (the Python API takes any pydantic model or type directly).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import create_model

AnswerSpec = str | list | dict

_NAMES: dict[str, Any] = {"string": str, "number": int | float, "integer": int, "boolean": bool, "any": Any}
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SPEC_FORMS = "a type name (string, number, integer, boolean, any; NAME? allows null), [TYPE], or {FIELD: TYPE, ...}"


def answer_type(spec: AnswerSpec, where: str = "") -> Any:
    """The Python type ``spec`` stands for; ValueError naming the part (``where``) that is wrong."""
    at = f"{where}: " if where else ""
    if isinstance(spec, str):
        name = spec.strip()
        optional = name.endswith("?")
        base = _NAMES.get(name.removesuffix("?").strip().lower())
        if base is None:
            raise ValueError(f"{at}{spec!r} is not a type; use {SPEC_FORMS}")
        return base | None if optional and base is not Any else base
    if isinstance(spec, list):
        if len(spec) != 1:
            raise ValueError(f"{at}a list type holds exactly one item type, e.g. [string]")
        return list[answer_type(spec[0], f"{where}[0]")]  # type: ignore[misc]
    if isinstance(spec, dict):
        if not spec:
            raise ValueError(f"{at}an object type needs at least one field")
        fields: dict[str, Any] = {}
        for key, value in spec.items():
            if not isinstance(key, str) or not _FIELD.match(key):
                raise ValueError(f"{at}field name {key!r} must be a plain name (letters, digits, _)")
            fields[key] = (answer_type(value, f"{where}.{key}".lstrip(".")), ...)
        return create_model("Answer", **fields)
    raise ValueError(f"{at}{spec!r} is not a type; use {SPEC_FORMS}")
