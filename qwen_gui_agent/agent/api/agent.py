"""The Python API: open a device and a model, then drive the screen call by call, every call recorded.

    with open_agent("desktop", scripted_model([...]), out_dir="runs") as agent:
        agent.tap("the Name field")
        agent.type("Li Lei")
        booking = agent.query("What does the form show?", Booking)
        agent.assert_that("the form shows the name Li Lei")

Each call is a task step (``agent.runtime.steps``: the same code as ``agent run``),
recorded into one run directory (run.json, steps.jsonl, a screenshot per step,
report.html on close), so ``agent report`` and ``agent replay --check`` read it
like any run. Leaving the ``with`` block finishes the run: ``success``, or the
status of the exception that left it (a failed assertion is ``failure``).
"""

from __future__ import annotations

import builtins  # `type` in the class body is Agent.type (typing text): annotations name builtins.type
import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import TypeAdapter

from ...devices import open_device
from ...devices.base import Device
from ...devices.errors import DeviceError
from ...tasks.schema import AiStep, AssertStep, DoStep, LaunchStep, Step, TapStep, TypeStep, WaitForStep
from ..backends.base import BackendError, ModelBackend
from ..runtime.console import EventSink, plural
from ..runtime.queries import QueryFailed, ask_query
from ..runtime.runner import RunResult, SessionParts, finish_run, start_session
from ..runtime.secrets import Secrets
from ..runtime.session import LoopSettings, Session, StopRun
from ..runtime.steps import CheckFailed, run_step
from .errors import (
    AgentClosed,
    AgentError,
    QueryError,
    ScreenAssertionError,
    StepFailed,
    WaitTimeoutError,
)
from .models import StartedModel, start_model

if TYPE_CHECKING:
    from ...devices.android.settings import AndroidSettings
    from ...devices.desktop.settings import DesktopSettings
    from ...tools.dialects.base import Coordinates
    from ..backends.settings import BackendSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class LogEvents:
    """The run's progress as log records (logger ``qwen_gui_agent.agent.api.agent``): quiet unless asked for."""

    def emit(self, event: str, data: dict[str, Any]) -> None:
        log.info("%s %s", event, json.dumps(data, ensure_ascii=False, default=str))


def open_agent(
    device: str | Device = "desktop",
    model: BackendSettings | ModelBackend | str | None = None,
    *,
    dialect: str | None = None,
    coords: Coordinates | None = None,
    out_dir: str | Path = "runs",
    name: str = "python",
    settings: LoopSettings | None = None,
    secrets: Mapping[str, str] | None = None,
    desktop: DesktopSettings | None = None,
    android: AndroidSettings | None = None,
    events: EventSink | None = None,
    progress: bool = False,
    report: bool = True,
) -> Agent:
    """Open ``device`` (a spec such as ``desktop`` or ``android:SERIAL``, or an open Device) and start ``model``.

    The run directory (``out_dir/DATE-TIME-name``) is created only once both
    are up: a device or backend that cannot start raises its ``DeviceError`` /
    ``BackendError`` and records nothing. What is opened here is closed by
    ``Agent.close()``; a Device or ModelBackend passed in stays the caller's.
    ``settings`` bounds the run (steps per goal, time, settle pause); its pixel
    bounds are taken from the model's settings. ``progress`` prints each step
    on the console (rich); otherwise steps go to the log.
    """
    with ExitStack() as opened:
        if isinstance(device, Device):
            screen = device
        else:
            screen = opened.enter_context(open_device(device, desktop=desktop, android=android))
        started = start_model(model, dialect=dialect, coords=coords)
        if started.owned:
            opened.enter_context(started.backend)
        loop = settings or LoopSettings()
        if started.settings is not None:  # the frame the model is sent follows its settings, as in `agent run`
            loop = replace(loop, frame=started.settings.frame)
        sink = events if events is not None else _default_events(progress)
        session = start_session(
            SessionParts(
                device=screen,
                backend=started.backend,
                dialect=started.dialect,
                settings=loop,
                events=sink,
                out_dir=Path(out_dir),
                secrets=Secrets(secrets or {}),
                model_info=started.info,
            ),
            title=name,
        )
        agent = Agent(session, started, closing=opened.pop_all(), report=report)
    return agent


def _default_events(progress: bool) -> EventSink:
    if not progress:
        return LogEvents()
    from ..runtime.progress import RichEvents

    return RichEvents()


class Agent:
    """One recorded run, driven call by call; build it with ``open_agent``."""

    def __init__(self, session: Session, model: StartedModel, *, closing: ExitStack, report: bool = True) -> None:
        self._session = session
        self._model = model
        self._closing = closing
        self._report = report
        self._calls = 0
        self._result: RunResult | None = None

    # ------------------------------------------------------------------ what it is

    @property
    def run_dir(self) -> Path:
        """The run directory every call is recorded in."""
        return self._session.writer.directory

    @property
    def device(self) -> Device:
        return self._session.device

    @property
    def backend(self) -> ModelBackend:
        return self._model.backend

    @property
    def result(self) -> RunResult | None:
        """How the run ended (None while it is open)."""
        return self._result

    # ------------------------------------------------------------------ calls

    def run(self, goal: str, *, max_steps: int | None = None) -> str:
        """Let the model pursue ``goal`` step by step; return its closing message.

        Raises StepFailed when the model gives up, runs out of steps, gets stuck or asks for a person.
        """
        return self._step(AiStep(ai=goal, max_steps=max_steps))

    def tap(self, description: str) -> None:
        """Find the element ``description`` names (one grounding question to the model) and click it."""
        self._step(TapStep(tap=description))

    def type(self, text: str, *, submit: bool = False) -> None:
        """Type ``text`` into what has the focus (``submit`` presses Enter after); ``{{secret:NAME}}`` allowed."""
        self._step(TypeStep(type=text, submit=submit))

    def do(self, action: str) -> None:
        """One action in canonical text, its points in screenshot pixels: ``do("hotkey(key='ctrl a')")``."""
        self._step(DoStep(do=action))

    def launch(self, app: str) -> None:
        """Start an app: a command line on the desktop, a package or label on a phone."""
        self._step(LaunchStep(launch=app))

    def assert_that(self, statement: str) -> None:
        """Ask the model whether ``statement`` is true of the screen now; ScreenAssertionError if it says no."""
        # By its alias: `assert` is a keyword, and type checkers name the __init__ parameter after the alias.
        self._step(AssertStep.model_validate({"assert": statement}))

    def wait_for(self, statement: str, *, timeout: float = 30.0, interval: float = 2.0) -> None:
        """Ask again every ``interval`` seconds until the model says ``statement`` is true; WaitTimeoutError after."""
        try:
            self._step(WaitForStep(wait_for=statement, timeout=timeout, interval=interval))
        except ScreenAssertionError as failure:
            raise WaitTimeoutError(failure.statement, failure.reason, timeout_s=timeout, run_dir=self.run_dir) from None

    @overload
    def query(self, question: str) -> Any: ...

    @overload
    def query(self, question: str, schema: builtins.type[T]) -> T: ...

    def query(self, question: str, schema: Any = None) -> Any:
        """Read data off the screen: an instance of ``schema`` (a pydantic model, or any type pydantic validates:
        ``int``, ``list[str]``, a TypedDict ...), or plain JSON data (dict, list ...) without one.

        An answer that is not JSON, or does not validate, is fed back to the model with the reason
        (``settings.max_parse_errors`` times); then QueryError.
        """
        adapter: TypeAdapter[Any] = TypeAdapter(Any if schema is None else schema)
        with self._call():
            self._calls += 1
            self._session.emit("task_step", number=self._calls, kind="query", text=question)
            return ask_query(self._session, question, adapter)

    def run_task(self, path: str | Path, *, environ: Mapping[str, str] | None = None) -> str:
        """Run a task file's steps here (its ``model`` and ``device`` sections are not used: this agent's are).

        ``${VAR}`` is filled from ``environ`` (none by default); ``{{var:NAME}}`` from the file's own query steps.
        """
        from ...tasks.loader import load_task  # TaskFileError (file:line: field: problem) if it is bad

        task = load_task(path, environ or {})
        variables: dict[str, Any] = {}
        message = ""
        for step in task.steps:
            message = self._step(step, variables) or message
        return message or f"the {plural(len(task.steps), 'step')} of {path} ran"

    # ------------------------------------------------------------------ end

    def close(self, error: BaseException | None = None) -> RunResult:
        """Finish the run: run.json says how it ended (``error``: the exception that ended it), report.html is
        written, and what ``open_agent`` opened is closed. Closing twice returns the first result."""
        if self._result is not None:
            return self._result
        status, message = _ending(error, self._session.steps_recorded)
        result = RunResult(
            status=status,
            message=self._session.secrets.redact(message),
            run_dir=self.run_dir,
            steps=self._session.steps_recorded,
        )
        try:
            self._result = finish_run(self._session.writer, result, self._session.emit, write_report=self._report)
        finally:
            self._closing.close()
        return self._result

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self, kind: builtins.type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close(error)

    # ------------------------------------------------------------------ inside

    def _step(self, step: Step, variables: dict[str, Any] | None = None) -> str:
        with self._call():
            self._calls += 1
            return run_step(self._session, step, {} if variables is None else variables, number=self._calls)

    @contextmanager
    def _call(self) -> Iterator[None]:
        """Each call's failures as the API's typed errors, naming the run directory."""
        if self._result is not None:
            raise AgentClosed(f"the agent is closed; its run is recorded in {self.run_dir}")
        try:
            yield
        except CheckFailed as failure:
            raise ScreenAssertionError(failure.statement, failure.reason, run_dir=self.run_dir) from None
        except QueryFailed as failure:
            raise QueryError(failure.question, failure.problem, failure.answer, run_dir=self.run_dir) from None
        except StopRun as stop:
            raise StepFailed(stop.message, status=stop.status, run_dir=self.run_dir) from None


def _ending(error: BaseException | None, steps: int) -> tuple[str, str]:
    """The run's final status and message, from the exception that ended the ``with`` block (if any)."""
    match error:
        case None:
            return "success", f"{plural(steps, 'step')} recorded"
        case AgentError():
            return error.status, error.message
        case AssertionError():
            return "failure", f"assertion failed: {error}" if str(error) else "an assertion failed"
        case KeyboardInterrupt():
            return "interrupted", "stopped with Ctrl-C (SIGINT)"
        case DeviceError():
            return "error", f"device: {error}"
        case BackendError():
            return "error", f"model backend: {error}"
        case _:
            return "error", f"the script stopped on {type(error).__name__}: {error}"


__all__ = ["Agent", "LogEvents", "open_agent"]
