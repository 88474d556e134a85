"""Corrections of recorded steps: the action the model should have chosen, stored beside the run.

``agent label RUN --step 3 "click(start_box='(410,220)')"`` writes ``RUN/labels.json``;
the recorded steps are never rewritten. The corrected action is canonical text in
the step's recorded model frame (the frame the model's own answer was written in),
checked when it is stored: it must parse, the step must be a model step, and its
points must lie inside that frame. The export (``agent.export.swift``)
writes it as the step's answer, in the run's dialect.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ...tools.actions import Action, Click
from ...tools.canonical import format_action, parse_action
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame, check_action
from ..files.bounded_json import JsonLimitError, loads_bounded
from ..files.reading import MIB, FileRefused, read_regular
from ..files.writing import replace_text
from .run_files import MODEL_KINDS, RECORD_LIMITS, RecordedRun, StepRecord, one_line

LABELS_FILE = "labels.json"
MAX_LABELS_BYTES = 16 * MIB


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
    try:
        return Labels.model_validate(loads_bounded(read_regular(path, MAX_LABELS_BYTES), RECORD_LIMITS))
    except FileNotFoundError:
        return Labels()
    except FileRefused as error:
        raise LabelError(f"{error}; remove it, or restore the labels.json that `agent label` wrote") from None
    except (OSError, JsonLimitError) as error:
        raise LabelError(
            f"{path} is not a readable labels file ({error}); remove it or label the steps again"
        ) from None
    except ValidationError as error:
        raise LabelError(
            f"{path} is not a readable labels file ({one_line(error)}); remove it or label the steps again"
        ) from None


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
    # Through a temporary file of a random name: a link planted at labels.json.tmp is never written through.
    replace_text(run.directory / LABELS_FILE, updated.model_dump_json(indent=2))
    return correction
