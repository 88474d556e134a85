"""Corrections of recorded steps: the action the model should have chosen, stored beside the run.

``agent label RUN --step 3 "click(start_box='(410,220)')"`` writes ``RUN/labels.json``;
the recorded steps are never rewritten. The corrected action is canonical text in
the step's recorded model frame (the frame the model's own answer was written in),
checked when it is stored: it must parse, the step must be a model step, and its
points must lie inside that frame. The export (``agent.export.swift``)
writes it as the step's answer, in the run's dialect.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...tools.actions import Action, Click
from ...tools.canonical import format_action, parse_action
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame, check_action
from .run_files import MODEL_KINDS, RecordedRun, StepRecord

LABELS_FILE = "labels.json"


class LabelError(ValueError):
    """A correction that cannot be stored or used (says which step and why)."""


class Correction(BaseModel):
    model_config = ConfigDict(frozen=True)
    action: str  # canonical text, in the step's model frame
    thought: str = ""  # optional reasoning written before the action in the exported answer
    labelled_at: float = Field(default_factory=time.time)


class Labels(BaseModel):
    """Every correction of one run, by step index."""

    model_config = ConfigDict(frozen=True)
    corrections: dict[int, Correction] = Field(default_factory=dict)


def load_labels(run_dir: Path) -> Labels:
    path = Path(run_dir) / LABELS_FILE
    if not path.exists():
        return Labels()
    try:
        return Labels.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as error:
        raise LabelError(f"{path} is not a readable labels file: {error}") from None


def corrected_action(step: StepRecord, correction: Correction) -> Action:
    """The correction as an action, checked against the step it corrects."""
    if step.kind not in MODEL_KINDS:
        raise LabelError(f"step {step.index} is a {step.kind!r} step: only model steps (ai, tap) can be corrected")
    if step.frame is None:
        raise LabelError(f"step {step.index} has no recorded model frame to check the corrected action against")
    frame = ModelFrame(**step.frame.model_dump())
    try:
        action = parse_action(correction.action)
        check_action(action, frame)  # a point outside the frame raises ActionParseError
    except ActionParseError as error:
        raise LabelError(f"step {step.index}: {error.problem} (the step's frame is {frame})") from None
    if step.kind == "tap" and not isinstance(action, Click):
        raise LabelError(f"step {step.index} is a tap (a grounding query): correct it with a click at the element")
    return action


def add_label(run: RecordedRun, index: int, action_text: str, thought: str = "") -> Correction:
    """Check a correction of step ``index`` and store it in RUN/labels.json (replaced atomically)."""
    step = next((step for step in run.steps if step.index == index), None)
    if step is None:
        raise LabelError(f"the run has no step {index} (it has steps 1..{len(run.steps)})")
    correction = Correction(action=action_text.strip(), thought=thought.strip())
    action = corrected_action(step, correction)
    correction = correction.model_copy(update={"action": format_action(action)})
    labels = load_labels(run.directory)
    updated = Labels(corrections={**labels.corrections, index: correction})
    path = run.directory / LABELS_FILE
    temporary = path.with_name(LABELS_FILE + ".tmp")
    temporary.write_text(updated.model_dump_json(indent=2), encoding="utf-8")
    os.replace(temporary, path)
    return correction
