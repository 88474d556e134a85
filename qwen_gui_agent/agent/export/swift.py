"""``agent export``: recorded runs -> an ms-swift training folder (``train.jsonl``, images, README).

Each usable model step becomes one row holding exactly what the model saw: the
prompt rebuilt from the recording by today's dialect (``agent.runtime.recorded_prompts``,
the same walker CI replay uses), every screenshot resized to its step's frame
with the agent's own ``resize_to_frame`` (so the coordinates written in the
answers stay true: ms-swift never rescales coordinates written as text), and
the recorded raw answer, or the user's correction (``agent label``) written in
the run's dialect. ``tap`` steps add grounding rows, written to their own file
(``grounding.jsonl``: see ``manifest`` for why).

The folder is built under a temporary name beside ``output`` and renamed into
place at the end: a failed export leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from PIL import Image

from ...tools.dialects.base import GroundingHit
from ...tools.errors import ActionParseError
from ...tools.frames import MAX_PIXELS, MIN_PIXELS, ModelFrame, ScreenGeometry
from ..files.paths import is_plain_name
from ..records.labels import LabelError, corrected_action, load_labels
from ..records.run_files import RecordedRun, RunLoadError, StepRecord, load_run
from ..replay.check import dialect_for_run, frame_for_step
from ..replay.planners import ReplayError
from ..runtime.recorded_prompts import PromptRebuilder
from .manifest import DATA_FILE, GROUNDING_FILE, data_files, write_manifest
from .partials import partial_prefix, remove_killed_exports
from .rows import (
    DELIBERATE_MISS,
    RowError,
    SwiftRow,
    action_row,
    answer_for,
    grounding_answer,
    grounding_row,
)
from .summary import ExportOptions, ExportResult, Skipped

log = logging.getLogger(__name__)

IMAGES_DIR = "images"
# A run still "running" was killed mid-run; "error" is a run the agent itself crashed in.
INCOMPLETE_STATUSES = frozenset({"running", "error"})
_STEP_KEY = "qwen_gui_agent.step"  # in Image.info: which step a frame-sized screenshot belongs to


class ExportError(ValueError):
    """Input the export refuses (a run it cannot use, an output folder that exists ...)."""


def export_runs(run_dirs: Sequence[Path], output: Path, options: ExportOptions = ExportOptions()) -> ExportResult:
    """Write the training folder ``output`` from ``run_dirs``; raise ExportError for input it refuses."""
    output = Path(output)
    if output.exists():
        raise ExportError(f"{output} already exists: choose a new folder (nothing is overwritten)")
    runs = [_load(Path(directory)) for directory in run_dirs]
    result = ExportResult(output=output)
    made = _make_parents(output.parent)  # `-o data/my-app` with no data/ yet: made, and removed if nothing is written
    try:
        result.removed_partials = remove_killed_exports(output)
        # The process id in the name tells the next export whether the one that made the folder is still going.
        staging = Path(tempfile.mkdtemp(prefix=f"{partial_prefix(output)}{os.getpid()}-", dir=output.parent))
    except OSError as error:  # read-only, full: nothing was written
        _remove_empty(made)
        raise _unwritable(output, error) from None
    try:
        # A file per shape of row (see manifest); a file that got no row is removed below.
        with (
            open(staging / DATA_FILE, "w", encoding="utf-8") as actions,
            open(staging / GROUNDING_FILE, "w", encoding="utf-8") as grounding,
        ):
            data: dict[str, IO[str]] = {DATA_FILE: actions, GROUNDING_FILE: grounding}
            for run in runs:
                if run.info.status != "success" and not options.include_failed:
                    result.skipped_runs.append(f"{run.info.run_id}: it ended {run.info.status!r}")
                    continue
                _RunExport(run, options, staging, data, result, _image_folder(run, result)).export()
        if result.rows == 0:
            raise ExportError("no usable model step in the given runs" + _why_nothing(result))
        for name in {DATA_FILE, GROUNDING_FILE} - set(data_files(result)):
            (staging / name).unlink()
        (result.min_pixels, result.max_pixels) = _pixel_bounds(runs)
        write_manifest(staging, result)
        os.rename(staging, output)
    except OSError as error:  # the disk filled up, or the folder went read-only, while writing
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(made)
        raise _unwritable(output, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(made)
        raise
    return result


def _unwritable(output: Path, error: OSError) -> ExportError:
    return ExportError(
        f"cannot write {output}: {error.strerror or error}; nothing was left there: free some space "
        "or choose another -o folder"
    )


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents (as ``mkdir -p``); the ones created, innermost first."""
    chain = [folder, *folder.parents]
    missing = chain[: next((i for i, path in enumerate(chain) if path.exists()), len(chain))]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ExportError(f"{folder} is not a directory: choose an output folder inside a directory") from None
    except OSError as error:
        raise ExportError(f"cannot create {folder}: {error.strerror or error}") from None
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders ``_make_parents`` created, innermost first, as long as they are empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _load(directory: Path) -> RecordedRun:
    try:
        run = load_run(directory)
    except RunLoadError as error:
        raise ExportError(str(error)) from None
    if run.truncated or run.info.status in INCOMPLETE_STATUSES:
        how = "its last step was cut off" if run.truncated else f"its status is {run.info.status!r}"
        raise ExportError(
            f"{directory} is an incomplete or crashed run ({how}): its steps may not be what the "
            "model saw to the end; export only runs that finished"
        )
    return run


def _image_folder(run: RecordedRun, result: ExportResult) -> str:
    """The run's folder under images/: its id, made unique (two runs of one task started in the same second).

    load_run accepts only a plain name as the id; checked again here, where a path would write outside the export.
    """
    name, number = run.info.run_id, 1
    while name in result.runs:
        number += 1
        name = f"{run.info.run_id}-{number}"
    if not is_plain_name(name):
        raise ExportError(
            f"{run.directory / 'run.json'}: run_id {name[:60]!r} is not a plain folder name: set it to "
            "the run folder's name"
        )
    return name


def _why_nothing(result: ExportResult) -> str:
    reasons = [*result.skipped_runs, *(f"{s.run_id} step {s.index}: {s.reason}" for s in result.skipped[:5])]
    hint = "; add --include-failed for runs that did not succeed" if result.skipped_runs else ""
    return (": " + "; ".join(reasons) if reasons else "") + hint


def _pixel_bounds(runs: Sequence[RecordedRun]) -> tuple[int, int]:
    """Bounds under which every exported image is already its own smart_resize size (ms-swift leaves it alone)."""
    settings = [run.info.frame_settings for run in runs]
    return (
        min(int(s.get("min_pixels", MIN_PIXELS)) for s in settings),
        max(int(s.get("max_pixels", MAX_PIXELS)) for s in settings),
    )


class _RunExport:
    """One run's rows, appended to the data files (``data``: file name -> file); its screenshots saved once each."""

    def __init__(
        self,
        run: RecordedRun,
        options: ExportOptions,
        staging: Path,
        data: dict[str, IO[str]],
        result: ExportResult,
        name: str,
    ) -> None:
        self.run = run
        self.name = name  # of the run in the export: its image folder, its rows' sources
        self.options = options
        self.staging = staging
        self.data = data
        self.result = result
        try:
            self.dialect = dialect_for_run(run.info)
            self.labels = load_labels(run.directory)
        except (ReplayError, LabelError) as error:
            raise ExportError(f"{run.directory}: {error}") from None
        self.prompts = PromptRebuilder(run, self.dialect)
        self.saved: set[str] = set()  # image paths written so far

    def export(self) -> None:
        self.result.runs.append(self.name)
        self.result.dialects.add(self.dialect.name)
        unknown = set(self.labels.corrections) - {step.index for step in self.run.steps}
        if unknown:
            raise ExportError(
                f"{self.run.directory}: labels.json corrects step(s) the run does not have: {sorted(unknown)}"
            )
        for step in self.run.steps:
            self.prompts.begin(step)
            if step.kind == "ai":
                self._ai_step(step)
            elif step.kind == "tap" and self.options.grounding and self._in_range(step):
                self._tap_step(step)

    # -- steps ------------------------------------------------------------------------------------------------

    def _ai_step(self, step: StepRecord) -> None:
        frame = self._frame(step)
        image = self._image(step, frame)
        reason = self._frame_mismatch(step, frame) or self._skip_reason(step)
        if reason is None:
            try:
                answer = self._answer(step, frame)
                row = action_row(self.prompts.messages(frame, image), answer)
            except RowError as error:
                reason = str(error)
            else:
                self._write(row, step)
                self.result.action_rows += 1
        if reason is not None:
            self.result.skipped.append(Skipped(self.name, step.index, reason))
        self.prompts.remember(step, image)  # the history holds the step whatever became of its row

    def _tap_step(self, step: StepRecord) -> None:
        frame = self.dialect.grounding_frame(self._frame(step))  # what the loop read the box in
        image = self._image(step, frame)
        reason = self._frame_mismatch(step, frame) or (
            "" if step.query else "the grounding query is not recorded (a run from before queries were)"
        )
        if reason:
            self._skip(step, reason)
            return
        try:
            hit = self._grounding_hit(step, frame)
            messages = self.dialect.grounding_messages(step.query, image, frame)
            row = grounding_row(messages, step.query, hit, frame, grounding_answer(self.dialect.name))
        except (RowError, ActionParseError) as error:
            self._skip(step, str(error))
            return
        self._write(row, step)
        self.result.grounding_rows += 1

    def _skip_reason(self, step: StepRecord) -> str | None:
        corrected = step.index in self.labels.corrections
        if not self._in_range(step):
            return "outside the step range"
        if corrected:
            return None  # the user said what the answer should have been: the step is usable whatever happened
        if not step.answer.strip():
            return "no answer was recorded"
        if step.serving.get(DELIBERATE_MISS):  # a demonstration's planted mistake: history, not an answer
            return "a deliberate miss (agent eval miniwob --misses): kept as history only"
        if step.error is not None and step.error.kind == "parse" and not self.options.keep_parse_errors:
            return "the answer did not parse"
        if step.note.startswith("declined by the user") and not self.options.keep_declined:
            return "the user declined its action"
        if step.error is not None and step.error.kind != "parse":
            return f"the step ended in a {step.error.kind} error"
        return None

    def _answer(self, step: StepRecord, frame: ModelFrame) -> str:
        correction = self.labels.corrections.get(step.index)
        if correction is None:
            return step.answer
        try:
            action = corrected_action(step, correction)
        except LabelError as error:
            raise ExportError(f"{self.run.directory}: {error}") from None
        self.result.corrected_rows += 1
        return answer_for(self.dialect, [action], correction.thought, self.prompts.device_kind, frame)

    def _grounding_hit(self, step: StepRecord, frame: ModelFrame) -> GroundingHit:
        correction = self.labels.corrections.get(step.index)
        if correction is not None:
            try:
                action = corrected_action(step, correction)
            except LabelError as error:
                raise ExportError(f"{self.run.directory}: {error}") from None
            self.result.corrected_rows += 1
            return GroundingHit(point=action.points()[0])
        if step.error is not None or not step.actions:
            raise RowError("the grounding answer was not usable")
        return self.dialect.parse_grounding(step.answer, frame)[0]

    # -- frames, images, rows -------------------------------------------------------------------------------

    def _frame(self, step: StepRecord) -> ModelFrame:
        """The frame the prompt was built in: what the loop computed for the screenshot, as replay does."""
        if step.geometry is None or step.frame is None:
            raise ExportError(f"{self.run.directory}: step {step.index} has no recorded screenshot geometry or frame")
        return frame_for_step(self.run.info, ScreenGeometry(**step.geometry.model_dump()), self.dialect)

    @staticmethod
    def _frame_mismatch(step: StepRecord, frame: ModelFrame) -> str | None:
        recorded = ModelFrame(**step.frame.model_dump()) if step.frame else None
        if recorded is not None and recorded != frame:
            # The backend resized the image again; the answer's points are in what it really saw.
            return f"the model saw {recorded}, not the {frame} frame it was sent"
        return None

    def _image(self, step: StepRecord, frame: ModelFrame) -> Image.Image:
        image = self.prompts.prompt_image(step, frame)
        if image is None:
            why = self.prompts.problems.get(step.index, "")
            raise ExportError(
                f"{self.run.directory}: step {step.index}'s screenshot "
                f"{step.screenshot or '(none recorded)'} is missing or unreadable"
                f"{f' ({why})' if why else ''}: a run without its images cannot be exported"
            )
        image.info[_STEP_KEY] = step.index  # the history shows this same image object in later prompts
        return image

    def _in_range(self, step: StepRecord) -> bool:
        first, last = self.options.first_step, self.options.last_step
        return (first is None or step.index >= first) and (last is None or step.index <= last)

    def _skip(self, step: StepRecord, reason: str) -> None:
        self.result.skipped.append(Skipped(self.name, step.index, reason))

    def _write(self, row: SwiftRow, step: StepRecord) -> None:
        grounding = row.objects is not None
        sources = self.result.grounding_sources if grounding else self.result.sources
        sources.append(f"{self.name}/step-{step.index}")
        paths = [self._image_path(image) for image in row.images]
        self.result.longest_row = max(self.result.longest_row, row.token_estimate())
        self.data[GROUNDING_FILE if grounding else DATA_FILE].write(
            json.dumps(row.to_json(paths), ensure_ascii=False) + "\n"
        )

    def _image_path(self, image: Image.Image) -> str:
        """Each frame-sized screenshot is saved once, however many prompts show it."""
        relative = f"{IMAGES_DIR}/{self.name}/step-{image.info[_STEP_KEY]:04d}.png"
        if relative not in self.saved:
            (self.staging / relative).parent.mkdir(parents=True, exist_ok=True)
            image.save(self.staging / relative, format="PNG")
            self.saved.add(relative)
            self.result.images += 1
        return relative
