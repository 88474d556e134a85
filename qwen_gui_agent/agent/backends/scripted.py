"""A backend that plays back answers: a list given in code, an answers file, or a recorded run.

For tests and CI replays without a GPU. It is a real backend as far as the loop
can tell (same interface, same errors); it simply does not look at the images.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

from ...tools.messages import Message
from .base import BackendUnavailable, Completion, ModelBackend, ScriptExhausted, Usage

log = logging.getLogger(__name__)

ANSWER_SEPARATOR = "---"  # in a plain-text answers file, a line holding only this separates answers


class ScriptedBackend(ModelBackend):
    name = "scripted"

    def __init__(self, answers: Sequence[str], *, source: str = "a list") -> None:
        self._answers = tuple(answers)
        self._source = source
        self._next = 0
        # Every conversation it was asked about, in order: tests and replays inspect what the loop sent.
        self.requests: list[tuple[Message, ...]] = []

    @classmethod
    def from_run(cls, directory: Path | str) -> ScriptedBackend:
        """The answers a recorded run got from its model, in step order (steps without an answer skipped)."""
        from ..records.run_files import RunLoadError, load_run

        try:
            run = load_run(directory)
        except RunLoadError as error:
            raise BackendUnavailable(str(error), hint="pass a directory written by `agent run`") from None
        return cls([step.answer for step in run.steps if step.answer], source=f"the run in {directory}")

    @classmethod
    def from_path(cls, path: Path | str) -> ScriptedBackend:
        """A recorded run directory, a JSON or YAML list of answers, or a text file of answers split by '---' lines."""
        path = Path(path)
        if path.is_dir():
            return cls.from_run(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise BackendUnavailable(
                f"cannot read the script {path}: {error.strerror}",
                hint="pass a recorded run directory or a file of answers (.json/.yaml list, or text split by '---')",
            ) from None
        return cls(_answers_from_text(text, path), source=str(path))

    @property
    def remaining(self) -> int:
        return len(self._answers) - self._next

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        self.requests.append(tuple(messages))
        if self._next >= len(self._answers):
            raise ScriptExhausted(
                f"the script from {self._source} holds {len(self._answers)} answers and all were used; "
                f"the agent asked for answer {self._next + 1}",
                hint="add answers to the script, or lower --max-steps",
            )
        answer = self._answers[self._next]
        self._next += 1
        log.debug("scripted answer %d/%d", self._next, len(self._answers))
        return Completion(text=answer, usage=Usage(), model=self.name)


def _answers_from_text(text: str, path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        try:
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise BackendUnavailable(f"the script {path} is not valid {suffix[1:].upper()}: {error}") from None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise BackendUnavailable(f"the script {path} must hold a list of answer strings")
        return data
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == ANSWER_SEPARATOR:
            blocks.append([])
        else:
            blocks[-1].append(line)
    return [answer for block in blocks if (answer := "\n".join(block).strip())]
