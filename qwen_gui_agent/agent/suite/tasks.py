"""The task files of a suite: each argument is a task file, a folder of them, or a glob pattern."""

from __future__ import annotations

import glob
from pathlib import Path

from ..files.paths import is_dir_quietly, is_file_quietly

TASK_SUFFIXES = (".yaml", ".yml")
_GLOB_CHARACTERS = frozenset("*?[")


class SuiteInputError(ValueError):
    """The suite's arguments name no usable task files or devices: bad input."""


def is_pattern(text: str) -> bool:
    return any(character in _GLOB_CHARACTERS for character in text)


def looks_like_suite(argument: str) -> bool:
    """A folder or a glob pattern: a suite even when it is the only argument (a goal whose words hold a slash and a
    part over 255 bytes is neither, not an OSError)."""
    return is_dir_quietly(Path(argument)) or (is_pattern(argument) and argument.lower().endswith(TASK_SUFFIXES))


def expand_task_files(arguments: list[str]) -> list[Path]:
    """Every task file the arguments name, in order (a folder's and a glob's sorted), each once."""
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument)
        if is_dir_quietly(path):
            matches = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TASK_SUFFIXES)
            if not matches:
                raise SuiteInputError(f"the folder {argument} holds no task files (*.yaml, *.yml)")
        elif is_pattern(argument):
            matches = sorted(Path(match) for match in glob.glob(argument, recursive=True) if Path(match).is_file())
            if not matches:
                raise SuiteInputError(f"no task file matches {argument}")
        elif is_file_quietly(path) and path.suffix.lower() in TASK_SUFFIXES:
            matches = [path]
        else:
            raise SuiteInputError(f"no such task file: {argument} (a suite takes task files, folders or globs)")
        found.extend(match for match in matches if match.resolve() not in {p.resolve() for p in found})
    return found
