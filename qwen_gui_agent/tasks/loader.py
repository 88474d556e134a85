"""Read a task YAML: substitute ``${VAR}``, validate, and say exactly where it is wrong.

Errors name the file, the line and column, and the field
(``booking.yaml:12:11: steps[2].frame: ...``): pydantic's error locations are
walked down the YAML node tree to the node they point at.

Substitution: ``${VAR}`` takes the value from the task's ``env:`` section,
else from the environment given; ``${VAR:-default}`` falls back to a default;
``$$`` is a literal ``$``. The ``env:`` values themselves are substituted from
the environment only. Secrets use their own syntax (``{{secret:NAME}}``) and
are never substituted here: they are resolved at execution time. Nor are task variables
(``{{var:NAME}}``, saved by ``query`` steps): they are filled when their step starts; here
each one is only checked to be saved by an earlier step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import ValidationError

from .schema import Task, split_command_line
from .yaml_limits import DEFAULT_LIMITS, YamlLimitError, YamlLimits, compose_bounded

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails  # what ValidationError.errors() lists (pydantic's own dependency)

_VARIABLE = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\})")

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based
    column: int  # 1-based
    field: str
    message: str


class TaskFileError(ValueError):
    """A task file that cannot be used; ``str()`` lists each problem as ``file:line:col: field: message``."""

    def __init__(self, path: Path | str, problems: list[Problem]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}:{p.line}:{p.column}: {p.field + ': ' if p.field else ''}{p.message}" for p in problems]
        super().__init__("\n".join(lines))


def load_task(path: Path | str, environ: Mapping[str, str] | None = None, limits: YamlLimits = DEFAULT_LIMITS) -> Task:
    """The task in ``path``; raises TaskFileError (file, line, field) for anything wrong."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            raw = file.read(limits.max_bytes + 1)  # never more: the path may name a huge file or a device
        if len(raw) > limits.max_bytes:
            raise TaskFileError(path, [Problem(1, 1, "", f"the file is larger than {limits.max_bytes:,} bytes")])
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TaskFileError(path, [Problem(1, 1, "", f"cannot read the file: {error}")]) from None
    return parse_task(text, environ or {}, source=path, limits=limits)


def parse_task(
    text: str, environ: Mapping[str, str], *, source: Path | str = "<task>", limits: YamlLimits = DEFAULT_LIMITS
) -> Task:
    try:
        root, data = compose_bounded(text, limits)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(error, "problem", None) or str(error)
        label = "refused" if isinstance(error, YamlLimitError) else "not valid YAML"
        raise TaskFileError(source, [Problem(line, column, "", f"{label}: {problem}")]) from None
    if not isinstance(data, dict) or root is None:
        raise TaskFileError(source, [Problem(1, 1, "", "a task file is a mapping with at least a `steps:` list")])
    marks = _marks(root)
    _refuse_surrogates(data, source, marks)
    data = _substitute_all(data, environ, source, marks)
    try:
        task = Task.model_validate(data)
    except ValidationError as error:
        raise TaskFileError(source, [_problem(item, marks) for item in error.errors()]) from None
    problems = _command_line_problems(task, marks) + [
        Problem(*marks.get(location, (1, 1)), _field_name(location), message)
        for location, message in task.undefined_variables()
    ]
    if problems:
        raise TaskFileError(source, problems)
    return task


def _command_line_problems(task: Task, marks: dict[Location, tuple[int, int]]) -> list[Problem]:
    """Desktop command lines that could never start (an unclosed quote), caught now rather than mid-run."""
    problems = []
    for location, text in task.desktop_command_lines():
        try:
            split_command_line(text)
        except ValueError as error:
            problems.append(Problem(*marks.get(location, (1, 1)), _field_name(location), str(error)))
    return problems


def _refuse_surrogates(data: object, source: Path | str, marks: dict[Location, tuple[int, int]]) -> None:
    """A lone surrogate (``"\\ud800"`` in a quoted string) cannot be written as UTF-8: refuse it now, not mid-run."""

    def walk(value: object, location: Location) -> None:
        if isinstance(value, str) and not is_encodable(value):
            where = marks.get(location, (1, 1))
            raise TaskFileError(
                source,
                [
                    Problem(
                        *where,
                        _field_name(location),
                        "a lone surrogate (\\ud800-\\udfff) is no character: it cannot be typed or recorded",
                    )
                ],
            )
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key, location)
                walk(item, (*location, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, (*location, index))

    walk(data, ())


def is_encodable(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (no lone surrogates, as a bad byte in argv or ``\\ud800`` gives)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# ----------------------------------------------------------------------------- locations


def _marks(node: yaml.Node, location: Location = ()) -> dict[Location, tuple[int, int]]:
    """(line, column) of every node, by its path of keys and indexes."""
    marks = {location: (node.start_mark.line + 1, node.start_mark.column + 1)}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            marks.update(_marks(value, (*location, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            marks.update(_marks(item, (*location, index)))
    return marks


def _resolve(loc: tuple[str | int, ...], marks: dict[Location, tuple[int, int]]) -> Location:
    """The deepest YAML path an error location points at (union tags and the like are skipped)."""
    found: Location = ()
    for part in loc:
        candidate = (*found, part)
        if candidate in marks:
            found = candidate
    return found


def _field_name(location: Location) -> str:
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def _problem(item: ErrorDetails, marks: dict[Location, tuple[int, int]]) -> Problem:
    location = _resolve(tuple(item["loc"]), marks)
    line, column = marks.get(location, (1, 1))
    message = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        message = "unknown field"
    elif item["type"] == "missing":
        missing = item["loc"][-1]
        message = f"missing required field `{missing}`"
    return Problem(line, column, _field_name(location), message)


# ----------------------------------------------------------------------------- substitution


def _substitute(text: str, variables: Mapping[str, str], where: str, at: tuple[int, int], source: Path | str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "$"
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise TaskFileError(source, [Problem(*at, where, f"${{{name}}} is not set (in `env:` or the environment)")])

    return _VARIABLE.sub(replace, text)


def _substitute_all(
    data: dict, environ: Mapping[str, str], source: Path | str, marks: dict[Location, tuple[int, int]]
) -> dict:
    env_section = data.get("env")
    variables: dict[str, str] = {}
    if isinstance(env_section, dict):
        for key, value in env_section.items():
            text = "" if value is None else str(value)
            where = ("env", key)
            variables[str(key)] = _substitute(text, environ, _field_name(where), marks.get(where, (1, 1)), source)
    lookup = {**environ, **variables}

    def walk(value: object, location: Location) -> object:
        if isinstance(value, str):
            return _substitute(value, lookup, _field_name(location), marks.get(location, (1, 1)), source)
        if isinstance(value, dict):
            return {key: walk(item, (*location, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*location, index)) for index, item in enumerate(value)]
        return value

    result = {key: walk(value, (key,)) for key, value in data.items() if key != "env"}
    if env_section is not None:
        result["env"] = variables if isinstance(env_section, dict) else env_section
    return result
