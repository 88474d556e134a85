"""CI replay: does today's code still turn each recorded answer into the recorded device commands?

The recorded screenshots stand in for the device and the recorded answers for
the model. For every step the answer goes through TODAY's prompt builder (it
must still render), parser, frame computation, ``qwen_gui_agent.tools.frames.map_action`` and
the driver's pure planner; any difference from what was recorded is a failed
step. No GPU, device or network is touched, so users can put their recorded
runs in their own CI (``agent replay RUN --check``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from PIL import Image

from ...tools.actions import TERMINAL_ACTIONS, Action, Click, Point, with_points
from ...tools.canonical import format_action, parse_action
from ...tools.dialects.base import Coordinates, Dialect
from ...tools.errors import ActionParseError
from ...tools.frames import (
    ModelFrame,
    ScreenGeometry,
    map_action,
)
from ..records.run_files import (
    MODEL_KINDS,
    QUERY_KINDS,
    VERDICT_KINDS,
    ErrorRecord,
    RecordedRun,
    RunInfo,
    StepRecord,
    is_launch_record,
)
from ..runtime.recorded_prompts import PARSED_KINDS, PromptRebuilder
from .planners import DevicePlanner, ReplayError, planner_for_device

log = logging.getLogger(__name__)

# Model steps that are not parsed as action proposals (PARSED_KINDS): a grounding reply ("find X"), one click.
GROUNDED_KINDS = MODEL_KINDS - PARSED_KINDS


@dataclass(frozen=True)
class StepCheck:
    index: int
    kind: str
    summary: str  # the step's actions, for a readable test name
    problems: tuple[str, ...] = ()
    skipped: str = ""  # why nothing could be compared, when so
    caveat: str = ""  # what could not be compared in a step that passed
    elapsed_s: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ReplayResult:
    run: RecordedRun
    checks: tuple[StepCheck, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[StepCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)


def check_run(
    run: RecordedRun, *, planner: DevicePlanner | None = None, dialect: Dialect | None = None
) -> ReplayResult:
    """Replay every recorded step offline and compare; ``planner``/``dialect`` default to today's for the run."""
    dialect = dialect or dialect_for_run(run.info)
    planner = planner or planner_for_run(run.info)
    replayer = _Replayer(run, dialect, planner)
    return ReplayResult(run=run, checks=tuple(replayer.check(step) for step in run.steps))


def dialect_for_run(info: RunInfo) -> Dialect:
    from ...tools.dialects import get_dialect  # the dialect registry pulls in every parser

    coordinates: Coordinates = "relative" if info.frame_settings.get("relative") else "absolute"
    try:
        return get_dialect(info.dialect, coordinates=coordinates)
    except (KeyError, ValueError) as error:
        raise ReplayError(
            f"the run's dialect {info.dialect!r} is unknown today: {error}",
            hint="replay it with a version of the agent that knows it",
        ) from None


def planner_for_run(info: RunInfo) -> DevicePlanner:
    """Today's pure planner for the kind of device the run was recorded on."""
    return planner_for_device(info.device)


def frame_for_step(info: RunInfo, geometry: ScreenGeometry, dialect: Dialect) -> ModelFrame:
    """The model frame today's code computes for a screenshot of this geometry under the run's settings."""
    return ModelFrame.for_screen(
        geometry.width,
        geometry.height,
        info.frame_bounds,
        relative=dialect.relative,
        relative_scale=dialect.relative_scale,
    )


class _Replayer:
    """Walks a run's steps in order, rebuilding the prompt history as the loop did (``PromptRebuilder``)."""

    def __init__(self, run: RecordedRun, dialect: Dialect, planner: DevicePlanner) -> None:
        self.run = run
        self.dialect = dialect
        self.planner = planner
        self.prompts = PromptRebuilder(run, dialect)

    def check(self, step: StepRecord) -> StepCheck:
        started = time.perf_counter()
        problems: list[str] = []
        notes: list[str] = []
        self.prompts.begin(step)  # a new goal starts with an empty history
        try:
            skipped = self._compare(step, problems, notes)
        except ActionParseError as error:  # a recorded action text today's parser rejects
            problems.append(f"a recorded action no longer parses: {error}")
            skipped = ""
        summary = "; ".join(step.actions) or "; ".join(x.action for x in step.executed) or step.note or "(no action)"
        return StepCheck(
            index=step.index,
            kind=step.kind,
            summary=summary,
            problems=tuple(problems),
            skipped=skipped,
            caveat="; ".join(notes),
            elapsed_s=time.perf_counter() - started,
        )

    def _compare(self, step: StepRecord, problems: list[str], notes: list[str]) -> str:
        """Compare one step, adding to ``problems``; return why it was skipped, if it was."""
        geometry = ScreenGeometry(**step.geometry.model_dump()) if step.geometry else None
        if step.kind in MODEL_KINDS and geometry is None:
            return "no screenshot geometry recorded"
        frame = self._frame(step, geometry, problems)
        if step.kind in MODEL_KINDS and not step.answer and step.error is not None and step.error.kind != "parse":
            # The model never answered (HTTP 400/404, a timeout, a device failure): nothing to re-parse.
            if step.kind in PARSED_KINDS:
                self._render_prompt(step, frame, self.prompts.prompt_image(step, frame), problems)
            return f"no answer to re-parse: the step ended on a {step.error.kind} error"
        if step.kind in PARSED_KINDS:
            image = self.prompts.prompt_image(step, frame)  # read once: the prompt and the history both show it
            self._render_prompt(step, frame, image, problems)
            actions = self._reparse(step, frame, problems)
            self.prompts.remember(step, image)
        elif step.kind in GROUNDED_KINDS:
            actions = self._reground(step, frame, problems)
        elif step.kind in VERDICT_KINDS:
            return self._compare_verdict(step, problems)
        elif step.kind in QUERY_KINDS:
            return _compare_query(step, problems)
        elif any(is_launch_record(text) for text in step.actions):
            return "a desktop launch runs a command line: nothing to recompute"
        else:  # literal steps (do, type, wait, launch on a phone): the recorded actions are the input
            literal = [parse_action(text) for text in step.actions]
            if step.executed:
                notes.extend(filter(None, [self._compare_literal(step, literal, frame, geometry, problems)]))
            return "" if step.executed else "nothing was executed"
        if actions is None:
            return ""
        self._compare_execution(step, actions, frame, geometry, problems)
        return ""

    def _compare_verdict(self, step: StepRecord, problems: list[str]) -> str:
        from ..runtime.checks import parse_verdict  # the yes/no reader of assert and wait_for steps

        recorded = step.note.split(":", 1)[0] if step.note else ""
        if recorded not in ("yes", "no"):
            return "no verdict was recorded"
        try:
            now = "yes" if parse_verdict(step.answer).passed else "no"
        except ActionParseError as error:
            problems.append(f"the yes/no answer no longer reads\n  recorded: {recorded}\n  now:      {error}")
            return ""
        if now != recorded:
            problems.append(f"the yes/no answer reads differently\n  recorded: {recorded}\n  now:      {now}")
        return ""

    def _compare_literal(
        self,
        step: StepRecord,
        actions: list[Action],
        frame: ModelFrame | None,
        geometry: ScreenGeometry | None,
        problems: list[str],
    ) -> str:
        # A literal action's points are in its task's own frame, or screenshot pixels when it names none.
        # The loop records that frame; older records held the screen's model frame, so both readings are tried.
        attempts: list[list[str]] = []
        for candidate in dict.fromkeys((frame, None)):
            attempt: list[str] = []
            self._compare_execution(step, actions, candidate, geometry, attempt)
            if not attempt:
                return ""
            attempts.append(attempt)
        # Neither: an older record of a step with its own frame (`frame: 1080x2400`) that it did not keep.
        # What can still be checked: the same action was executed, and today's planner gives its commands.
        unmapped: list[str] = []
        self._compare_unmapped(step, actions, geometry, unmapped)
        if unmapped:
            problems.extend(attempts[0])
            return ""
        return "points not checked: the step's own frame is not recorded"

    def _compare_unmapped(
        self, step: StepRecord, actions: list[Action], geometry: ScreenGeometry | None, problems: list[str]
    ) -> None:
        to_run = [action for action in actions if not isinstance(action, TERMINAL_ACTIONS)]
        if len(to_run) != len(step.executed):
            problems.append("a different number of actions was executed")
            return
        for action, executed in zip(to_run, step.executed, strict=True):
            done = parse_action(executed.action)
            if _without_points(done) != _without_points(action):
                problems.append(f"a different action was executed: {executed.action}")
            elif not self.planner.matches(executed.commands, self.planner(done, geometry)):
                problems.append(f"the commands are not those of {executed.action}")

    def _frame(self, step: StepRecord, geometry: ScreenGeometry | None, problems: list[str]) -> ModelFrame | None:
        recorded = ModelFrame(**step.frame.model_dump()) if step.frame else None
        if step.kind not in MODEL_KINDS or geometry is None:
            return recorded  # a literal step's frame comes from its task file, not from the screen
        try:
            now = frame_for_step(self.run.info, geometry, self.dialect)
            if step.kind in GROUNDED_KINDS:
                now = self.dialect.grounding_frame(now)  # the loop reads a tap's box in this one (qwen3: over 1000)
        except (TypeError, ValueError) as error:  # settings today's code refuses (an aspect ratio, a bad number)
            problems.append(f"no model frame can be computed now\n  recorded: {recorded}\n  now:      {error}")
            return None
        if recorded is not None and recorded != now:
            problems.append(f"model frame differs\n  recorded: {recorded}\n  now:      {now}")
        return now

    def _render_prompt(
        self, step: StepRecord, frame: ModelFrame | None, image: Image.Image | None, problems: list[str]
    ) -> None:
        if image is None or frame is None:
            problems.append(f"cannot render the prompt: screenshot {step.screenshot!r} is missing or unreadable")
            return
        try:
            messages = self.prompts.messages(frame, image)
        except Exception as error:  # noqa: BLE001 - any failure to render is exactly what this check reports
            problems.append(f"the prompt no longer renders: {type(error).__name__}: {error}")
            return
        if not any(message.images() for message in messages):
            problems.append("the prompt no longer carries the screenshot")

    def _reparse(self, step: StepRecord, frame: ModelFrame | None, problems: list[str]) -> list[Action] | None:
        # The recorded parse error, where the step failed to parse (and so proposed no action).
        parse_error: ErrorRecord | None = (
            step.error if step.error is not None and step.error.kind == "parse" and not step.actions else None
        )
        try:
            parsed = self.dialect.parse(step.answer, frame) if frame else None
        except ActionParseError as error:
            if parse_error is not None:
                return []  # it failed then and fails now: the same outcome
            problems.append(f"the answer no longer parses\n  recorded: {_joined(step.actions)}\n  now:      {error}")
            return None
        if parsed is None:
            return None
        now = [format_action(action) for action in parsed.actions]
        if parse_error is not None and not now:
            return []  # an answer without any action is refused by the loop, then and now
        if parse_error is not None:
            problems.append(
                f"the answer now parses where it failed\n  recorded: parse error: {parse_error.message}"
                f"\n  now:      {_joined(now)}"
            )
            return None
        if now != list(step.actions):
            problems.append(
                f"the answer parses differently\n  recorded: {_joined(step.actions)}\n  now:      {_joined(now)}"
            )
        return list(parsed.actions)

    def _reground(self, step: StepRecord, frame: ModelFrame | None, problems: list[str]) -> list[Action] | None:
        if frame is None:
            return None
        try:
            hits = self.dialect.parse_grounding(step.answer, frame)
        except ActionParseError as error:
            if step.error is not None:
                return []
            problems.append(
                f"the grounding answer no longer parses\n  recorded: {_joined(step.actions)}\n  now:      {error}"
            )
            return None
        now: list[Action] = [Click(point=hits[0].point)]
        if [format_action(a) for a in now] != list(step.actions):
            problems.append(
                f"the grounding answer locates a different point\n  recorded: {_joined(step.actions)}"
                f"\n  now:      {_joined(format_action(a) for a in now)}"
            )
        return now

    def _compare_execution(
        self,
        step: StepRecord,
        actions: Sequence[Action],
        frame: ModelFrame | None,
        geometry: ScreenGeometry | None,
        problems: list[str],
    ) -> None:
        to_run = [action for action in actions if not isinstance(action, TERMINAL_ACTIONS)]
        stopped_early = step.error is not None or bool(step.note)  # a device error, stuck, Ctrl-C ...
        if stopped_early and len(step.executed) < len(to_run):
            to_run = to_run[: len(step.executed)]  # compare what ran before the step was cut short
        if len(to_run) != len(step.executed):
            problems.append(
                f"{len(step.executed)} action(s) were executed, today's code would execute {len(to_run)}"
                f"\n  recorded: {_joined(x.action for x in step.executed)}"
                f"\n  now:      {_joined(format_action(a) for a in to_run)}"
            )
            return
        for number, (action, executed) in enumerate(zip(to_run, step.executed, strict=True), start=1):
            try:
                mapped = map_action(action, frame, geometry) if geometry is not None else action
                commands = self.planner(mapped, geometry)
            except ValueError as error:  # out of frame now (ActionParseError), unsupported, or unplannable
                problems.append(f"action {number} is rejected now\n  recorded: {executed.action}\n  now:      {error}")
                continue
            text = format_action(mapped)
            if text != executed.action or not self.planner.matches(executed.commands, commands):
                problems.append(
                    f"action {number}: device command differs\n"
                    f"  recorded: {executed.action} -> {_joined(executed.commands)}\n"
                    f"  now:      {text} -> {_joined(commands)}"
                )


def _compare_query(step: StepRecord, problems: list[str]) -> str:
    """A query step: today's reader must find the same JSON in the recorded answer (the schema is not recorded)."""
    from ..runtime.queries import extract_json  # the JSON reader of query steps

    if not step.answer:
        return "no answer was recorded"
    try:
        now = extract_json(step.answer)
    except ActionParseError as error:
        problems.append(f"the answer no longer reads as JSON\n  recorded: {step.value!r}\n  now:      {error}")
        return ""
    if now != step.value:
        problems.append(f"the answer reads as different JSON\n  recorded: {step.value!r}\n  now:      {now!r}")
    return ""


def _without_points(action: Action) -> Action:
    return with_points(action, lambda _point: Point(x=0, y=0))


def _joined(items: Iterable[object]) -> str:
    texts = [str(item) for item in items]
    return " | ".join(texts) if texts else "(nothing)"
