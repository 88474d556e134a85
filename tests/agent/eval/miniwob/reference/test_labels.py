"""The labeller never costs the model its step, and says when a label depends on the solver's own notes."""

from __future__ import annotations

import json
from pathlib import Path

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.eval.miniwob.reference.labels import (
    LABELS_FILE,
    LabellingBackend,
    read_labels,
    write_labels,
)
from qwen_gui_agent.agent.eval.miniwob.reference.moves import Move, hotkey, type_text
from qwen_gui_agent.agent.eval.miniwob.reference.page import Page
from qwen_gui_agent.tools.messages import Message

ANSWER = "Thought: t\nAction: finished(content='done')"


def page() -> Page:
    def no_dom(script: str, *arguments: object) -> object:
        raise AssertionError("these solvers do not read the page")

    return Page("Type it.", (), no_dom, area=None)  # type: ignore[arg-type]


def ask(backend: LabellingBackend) -> str:
    return backend.complete([Message.text("user", "go")]).text


def test_a_broken_solver_leaves_the_step_unlabelled_and_the_model_answers() -> None:
    def broken(_: Page) -> Move:
        raise IndexError("a solver's defect")

    backend = LabellingBackend(ScriptedBackend([ANSWER]), broken, page())
    assert ask(backend) == ANSWER
    assert backend.labels == [None]


def test_a_label_that_used_the_solvers_notes_is_marked_and_the_notes_are_put_back(tmp_path: Path) -> None:
    def noting(page: Page) -> Move:
        if page.memory.get("typed"):
            return hotkey("enter", "Confirm.")
        page.memory["typed"] = True
        return type_text("abc", "Type.")

    shown = page()
    backend = LabellingBackend(ScriptedBackend([ANSWER, ANSWER]), noting, shown)
    ask(backend)
    ask(backend)
    assert [(label.kind, label.stateful) for label in backend.labels if label] == [("type", True), ("type", True)]
    assert shown.memory == {}  # the model's play, not the solver's, decides what the page went through

    write_labels(tmp_path, backend.labels)
    assert read_labels(tmp_path) == backend.labels
    (tmp_path / LABELS_FILE).write_text(json.dumps({"labels": [{"targets": []}]}))
    assert read_labels(tmp_path) is None  # a damaged file: no labels, the figures use the step index
