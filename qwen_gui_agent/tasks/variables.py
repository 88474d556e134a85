"""Task variables: ``{{var:NAME}}`` placeholders filled with what an earlier ``query`` step read off the screen.

A ``query`` step with ``save_as: NAME`` keeps its answer; later steps use it as
``{{var:NAME}}``, or ``{{var:NAME.FIELD}}`` / ``{{var:NAME.0}}`` for a field of
an object or an item of a list. The syntax differs from ``${VAR}`` (the
environment, filled when the file is read) and ``{{secret:NAME}}`` (filled at
the last moment, never recorded): a variable is filled when its step starts,
and the filled text is what the step records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
PLACEHOLDER = re.compile(r"\{\{\s*var:(" + NAME_PATTERN + r")((?:\.[A-Za-z0-9_]+)*)\s*\}\}")


class VariableError(ValueError):
    """A placeholder names a variable no query has saved, or a field its value lacks."""


def referenced_variables(texts: Iterable[str]) -> tuple[str, ...]:
    """The variable names the texts use (without their field paths), in first-seen order."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(1), None)
    return tuple(seen)


def as_text(value: Any) -> str:
    """How a value reads inside a step's text: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def lookup(values: Mapping[str, Any], name: str, path: str = "") -> Any:
    """``values[name]``, then each ``.FIELD`` (object key) or ``.N`` (list index) of ``path``."""
    if name not in values:
        known = ", ".join(sorted(values)) or "none yet"
        raise VariableError(f"no query has saved the variable {name!r} (saved so far: {known})")
    value = values[name]
    walked = name
    for part in filter(None, path.split(".")):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise VariableError(f"{walked} has no field or item {part!r} (its value is {as_text(value)})")
        walked += f".{part}"
    return value


def fill(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with every ``{{var:...}}`` replaced; VariableError for one that cannot be filled."""
    return PLACEHOLDER.sub(lambda match: as_text(lookup(values, match.group(1), match.group(2))), text)
