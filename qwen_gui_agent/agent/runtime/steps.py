"""The task-step runner: each step of a task file, in order, every one recorded.

``ai`` runs the goal loop; ``do``/``type``/``wait`` run one literal action;
``tap`` asks the model where an element is (one grounding query) and clicks
it; ``launch`` starts an app; ``assert`` asks the model a yes/no question
about the screen (no fails the task); ``wait_for`` asks it again and again
until yes or its timeout; ``query`` reads data off the screen into a
variable that later steps use as ``{{var:NAME}}``. A step that fails ends
the run through StopRun.
"""

from __future__ import annotations

import logging
import shlex
import subprocess
import tempfile
import time
from typing import Any

from pydantic import TypeAdapter

from ...tasks.answer_types import answer_type
from ...tasks.schema import (
    AiStep,
    AssertStep,
    DoStep,
    LaunchStep,
    QueryStep,
    Step,
    TapStep,
    Task,
    TypeStep,
    WaitForStep,
    WaitStep,
    split_command_line,
)
from ...tasks.variables import VariableError
from ...tools.actions import Action, Click, OpenApp, Type, Wait
from ...tools.canonical import format_action, parse_action
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame, screenshot_frame
from ..records.run_files import ErrorRecord, ExecutedRecord, launch_record
from .checks import Verdict, parse_verdict, verdict_messages
from .console import plural
from .drafts import StepDraft
from .loop import run_goal
from .queries import ask_query
from .session import Session, StopRun, parse_failure

log = logging.getLogger(__name__)

LAUNCH_CHECK_S = 0.5  # how long a desktop launch is watched for an immediate failure
STDERR_TAIL_BYTES = 400  # of a failed launch's error output, kept in the message


def run_task(session: Session, task: Task) -> str:
    """Run every step; return the closing message, or raise StopRun with how the run ended."""
    message = ""
    if task.device is not None and task.device.app:
        session.emit("task_step", number=0, kind="launch", text=task.device.app)
        launch(session, task.device.app)
    variables: dict[str, Any] = {}  # what query steps saved, by name
    for number, step in enumerate(task.steps, start=1):
        message = run_step(session, step, variables, number=number) or message
    count = len(task.steps)
    return message or (f"the {plural(count, 'step')} {'is' if count == 1 else 'are'} done")


def run_step(session: Session, written: Step, variables: dict[str, Any], *, number: int) -> str:
    """One task step, its ``{{var:...}}`` filled from ``variables`` (a query step adds to them).

    Returns the model's closing message of an ``ai`` step ("" for the others); raises StopRun when the step fails.
    """
    session.check_time()
    step = _with_variables(written, variables)
    session.emit("task_step", number=number, kind=step.kind, text=step.name or step.text)
    match step:
        case AiStep():
            result = run_goal(session, step.ai, max_steps=step.max_steps)
            if result.status == "failure":
                raise StopRun("failure", result.message or f"the model gave up on: {step.ai}")
            return result.message
        case DoStep():
            do(session, parse_action(step.do), step.frame, kind="do")
        case TypeStep():
            do(session, Type(text=step.type, submit=step.submit), None, kind="type")
        case WaitStep():
            do(session, Wait(seconds=step.wait), None, kind="wait")
        case TapStep():
            tap(session, step.tap)
        case LaunchStep():
            launch(session, step.launch)
        case AssertStep():
            check(session, step.assert_)
        case WaitForStep():
            wait_for(session, step.wait_for, timeout_s=step.timeout, interval_s=step.interval)
        case QueryStep():
            adapter = TypeAdapter(answer_type(step.answer_schema))
            variables[step.save_as] = adapter.dump_python(ask_query(session, step.query, adapter), mode="json")
    return ""


def _with_variables(step: Step, variables: dict[str, Any]) -> Step:
    try:
        return step.with_variables(variables)
    except VariableError as error:
        raise StopRun(
            "failure", f"{step.kind} step: {error}", error=ErrorRecord(kind="variable", message=str(error))
        ) from None


def do(session: Session, action: Action, frame: ModelFrame | None, *, kind: str) -> None:
    """One literal action; its points in ``frame`` (None: screenshot pixels)."""
    with session.step(kind) as draft:
        observation = session.observe(draft)
        geometry = observation.shot.geometry
        # Recorded with the step, so a replay maps the literal action the same way.
        draft.action_frame = frame or screenshot_frame(geometry)
        draft.actions = [format_action(action)]
        try:
            performed = session.perform(draft, action, frame, observation)
        except ActionParseError as error:
            raise _step_failure(kind, error) from None
        if performed.executed is None:  # the person said no at --confirm: the task goes on without it
            draft.note = "declined by the user"
    session.settle()


def tap(session: Session, query: str) -> None:
    """Locate ``query`` with one grounding question, then click the best hit."""
    with session.step("tap") as draft:
        draft.query = query
        observation = session.observe(draft)
        with draft.timed("prompt"):
            messages = session.dialect.grounding_messages(query, observation.image, observation.frame)
        completion = session.ask_model(draft, messages)
        frame = session.dialect.grounding_frame(session.answer_frame(draft, observation, completion))
        if frame != observation.frame:
            draft.action_frame = frame  # recorded: the box's scale, if it is not the action calls' (qwen3)
        session.phase(draft, "parse")
        try:
            with draft.timed("parse"):
                hits = session.dialect.parse_grounding(completion.text, frame)
            hit = hits[0]
            action = Click(point=hit.point)
            draft.thought = hit.label
            session.show_thought(draft, hit.label)
            draft.actions = [format_action(action)]
            session.perform(draft, action, frame, observation)
        except ActionParseError as error:
            raise _step_failure("tap", error) from None
    session.settle()


def launch(session: Session, app: str) -> None:
    """Start an app: by package or label on a phone, as a command line on the desktop."""
    if session.device.kind == "mobile":
        do(session, OpenApp(name=app), None, kind="launch")
        return
    with session.step("launch") as draft:
        session.observe(draft)
        draft.actions = [launch_record(app)]
        try:
            argv = split_command_line(app)
        except ValueError as error:  # a task built in code skips the task file's check
            raise StopRun("failure", str(error), error=ErrorRecord(kind="launch", message=str(error))) from None
        if not session.settings.dry_run:
            _start_program(app, argv, session.device.program_environment())
        draft.executed.append(
            ExecutedRecord(action=launch_record(app), commands=[shlex.join(argv)], dry_run=session.settings.dry_run)
        )
    session.settle()


def _start_program(app: str, argv: list[str], environment: dict[str, str] | None) -> None:
    """Start ``argv`` in the background (in ``environment``: the device's display); fail if it cannot start or
    dies at once with an error code.

    Watching it for a moment catches a bad option or a missing display, which
    would otherwise pass as a launch and leave the model staring at an
    unchanged screen. A program that exits 0 at once (a launcher handing over
    to a running instance) is fine.
    """
    # stderr goes to an unnamed file, not a pipe: a long-lived app must never block on a full pipe.
    with tempfile.TemporaryFile() as errors:
        try:
            # A new session: the app outlives the run and ignores our Ctrl-C.
            process = subprocess.Popen(
                argv,
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                env=environment,
            )
        except OSError as error:
            raise StopRun(
                "failure", f"cannot launch {app!r}: {error}", error=ErrorRecord(kind="launch", message=str(error))
            ) from None
        try:
            code = process.wait(timeout=LAUNCH_CHECK_S)
        except subprocess.TimeoutExpired:
            return  # still running: started
        if code == 0:
            return
        errors.seek(0)
        tail = errors.read()[-STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()
    message = f"{app!r} exited at once with code {code}" + (f": {tail}" if tail else " (no error output)")
    raise StopRun("failure", f"cannot launch: {message}", error=ErrorRecord(kind="launch", message=message))


class CheckFailed(StopRun):
    """The model judged a statement false (``assert``), or not yet true when ``wait_for`` gave up."""

    def __init__(self, statement: str, reason: str, message: str) -> None:
        self.statement = statement
        self.reason = reason
        super().__init__("failure", message)


def check(session: Session, statement: str) -> None:
    """Fail the task unless the model judges ``statement`` true for the screen now."""
    with session.step("assert") as draft:
        verdict = _judge(session, draft, statement)
        if not verdict.passed:
            raise CheckFailed(statement, verdict.reason, f"assertion failed: {statement} ({verdict.reason})")


def wait_for(session: Session, statement: str, *, timeout_s: float, interval_s: float) -> None:
    """Ask about the screen until ``statement`` holds; fail after ``timeout_s``."""
    give_up_at = time.monotonic() + timeout_s
    while True:
        session.check_time()
        with session.step("wait_for") as draft:
            verdict = _judge(session, draft, statement)
        if verdict.passed:
            return
        if time.monotonic() + interval_s > give_up_at:
            raise CheckFailed(
                statement,
                verdict.reason,
                f"waited {timeout_s:g} s and it is still not true that: {statement} ({verdict.reason})",
            )
        time.sleep(interval_s)


def _judge(session: Session, draft: StepDraft, statement: str) -> Verdict:
    observation = session.observe(draft)
    feedback = ""
    for _ in range(session.settings.max_parse_errors + 1):
        completion = session.ask_model(draft, verdict_messages(statement, observation.image, feedback))
        session.phase(draft, "parse")
        try:
            verdict = parse_verdict(completion.text)
        except ActionParseError as error:
            feedback = error.feedback()
            draft.error = ErrorRecord(kind="parse", message=feedback)
            session.emit("feedback", kind="parse", message=feedback)
            continue
        draft.error = None
        draft.thought = verdict.reason
        draft.note = f"{'yes' if verdict.passed else 'no'}: {statement}"
        session.emit("verdict", statement=statement, passed=verdict.passed, reason=verdict.reason)
        return verdict
    raise parse_failure(f"no yes/no answer about: {statement}")


def _step_failure(kind: str, error: ActionParseError) -> StopRun:
    return StopRun("failure", f"{kind} step: {error.problem}", error=ErrorRecord(kind="parse", message=str(error)))
