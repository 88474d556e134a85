"""One whole run: a new run directory, the task's steps, and a final status that is always saved.

Whatever ends the run (the model, a budget, Ctrl-C, a device or backend
failure) the run directory holds every step so far and ``run.json`` says how
and why it ended. The console gets a last event naming the directory.
"""

from __future__ import annotations

import logging
import platform
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from ...devices.base import Device
from ...devices.errors import DeviceError
from ...tasks.schema import Task
from ...tools.dialects.base import Dialect
from ..backends.base import BackendError, ModelBackend
from ..records.run_files import RunInfo, RunWriteError, RunWriter
from .console import EventSink, UserChannel
from .secrets import Secrets
from .session import EndCheck, LoopSettings, Session, StopRun
from .steps import run_task

log = logging.getLogger(__name__)

# What `agent run` exits with for each final status.
EXIT_CODES = {
    "success": 0,
    "failure": 1,
    "stuck": 1,
    "budget": 1,
    "error": 1,
    "needs_user": 3,
    "interrupted": 130,
}
EXIT_UNWRITABLE = 2  # the run's folder could not be written: the user's --out is the problem, as with bad input


@dataclass(frozen=True)
class RunResult:
    status: str
    message: str
    run_dir: Path
    steps: int
    unwritable: bool = False  # a write into the run directory failed (read-only, full disk): exit 2

    @property
    def exit_code(self) -> int:
        return EXIT_UNWRITABLE if self.unwritable else EXIT_CODES.get(self.status, 1)


def slug(text: str, limit: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    joined = "-".join(words)[:limit].strip("-")
    return joined or "run"


def new_run_directory(out_dir: Path | str, title: str) -> Path:
    """``OUT/20261125-013500-book-a-flight`` (a suffix when that name is taken); OUT is created, the run's not."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # read-only, a file in the way, no space: say where, not a traceback
        raise RunWriteError(out_dir, error) from None
    base = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{slug(title)}"
    candidate, counter = out_dir / base, 2
    while candidate.exists():
        candidate, counter = out_dir / f"{base}-{counter}", counter + 1
    return candidate


def make_run_directory(out_dir: Path | str, title: str) -> Path:
    """A new, empty run (or suite) directory under ``out_dir``; RunWriteError when it cannot be made there."""
    directory = new_run_directory(out_dir, title)
    try:
        directory.mkdir(parents=True)
    except OSError as error:
        raise RunWriteError(directory, error) from None
    return directory


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("qwen-gui-agent", "transformers", "torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


@dataclass(frozen=True, kw_only=True)
class SessionParts:
    """What a recorded session is made of: a run without its task (the Python API runs calls one by one)."""

    device: Device
    backend: ModelBackend
    dialect: Dialect
    settings: LoopSettings
    events: EventSink
    out_dir: Path
    user: UserChannel | None = None
    secrets: Secrets = field(default_factory=Secrets)
    task_file: str | None = None
    model_info: dict[str, Any] | None = None
    end_check: EndCheck | None = None  # a benchmark environment that ends the run when its task is over


@dataclass(frozen=True, kw_only=True)
class RunParts(SessionParts):
    """Everything a run is made of: a session and its task; the CLI (or a test) builds it."""

    task: Task
    write_report: bool = True


class SignalInterrupt(KeyboardInterrupt):
    """A signal other than SIGINT (the CLI turns SIGTERM into this) ending the run like Ctrl-C.

    It is a KeyboardInterrupt so that every ``except KeyboardInterrupt`` on the way treats it as one;
    ``str()`` is the signal's name.
    """


def interruption_message(stop: KeyboardInterrupt) -> str:
    """What ended the run, in the record's words: the signal's name, or Ctrl-C (SIGINT)."""
    if isinstance(stop, SignalInterrupt):
        return f"stopped by {stop}"
    return "stopped with Ctrl-C (SIGINT)"


class NotStarted(Exception):
    """The device or the model backend could not start; the run is recorded with this status and message."""

    def __init__(self, status: str, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class RunPlan:
    """What a suite's task is before its device and backend exist: enough to record a run that could not start.

    A single ``agent run`` that cannot start leaves no run directory (the console says why); in a suite,
    each task keeps its own record, so the summary and the JUnit file can point at why it never started.
    """

    task: Task
    events: EventSink
    out_dir: Path
    dialect: str
    device_spec: str
    task_file: str | None = None
    model_info: dict[str, Any] | None = None
    secrets: Secrets = field(default_factory=Secrets)
    write_report: bool = True


def model_label(model: dict[str, Any]) -> str:
    """How a run's model is named on the console, in events and JUnit: a scripted run's script, never a model
    name it did not use."""
    if model.get("kind") == "scripted":
        return f"scripted: {model['script']}" if model.get("script") else "scripted"
    return str(model.get("model", ""))


def record_unstarted_run(plan: RunPlan, failure: NotStarted) -> RunResult:
    """A run directory whose run.json says why it never got to a step, so no suite task goes unrecorded."""
    run_dir = new_run_directory(plan.out_dir, plan.task.title())
    info = RunInfo(
        run_id=run_dir.name,
        task=plan.task.title(),
        task_file=plan.task_file,
        dialect=plan.dialect,
        model=plan.model_info or {},
        device={"spec": plan.device_spec},
        versions=_versions(),
        started_at=time.time(),
    )
    writer = RunWriter(run_dir, info)
    events = _RedactedEvents(plan.events, plan.secrets)
    events.emit(
        "run_started",
        task=info.task,
        run_dir=str(run_dir),
        device=plan.device_spec,
        dialect=plan.dialect,
        model=model_label(info.model),
        dry_run=False,
    )
    result = RunResult(status=failure.status, message=plan.secrets.redact(failure.message), run_dir=run_dir, steps=0)
    return finish_run(writer, result, events.emit, write_report=plan.write_report)


@dataclass(frozen=True)
class _RedactedEvents:
    """Events with secret values masked in every string, for a run that has no session."""

    sink: EventSink
    secrets: Secrets

    def emit(self, event: str, **data: Any) -> None:
        self.sink.emit(event, {key: self.secrets.redact_data(value) for key, value in data.items()})


def execute_run(parts: RunParts) -> RunResult:
    session = start_session(parts, title=parts.task.title())
    status, message = _run_steps(session, parts.task)
    result = RunResult(
        status=status,
        message=parts.secrets.redact(message),
        run_dir=session.writer.directory,
        steps=session.steps_recorded,
        unwritable=session.writer.failed,
    )
    return finish_run(session.writer, result, session.emit, write_report=parts.write_report)


def start_session(parts: SessionParts, *, title: str) -> Session:
    """A new run directory holding ``run.json`` (status running), and the session that records into it."""
    run_dir = new_run_directory(parts.out_dir, title)
    settings = parts.settings
    info = RunInfo(
        run_id=run_dir.name,
        task=title,
        task_file=parts.task_file,
        dialect=parts.dialect.name,
        model=parts.model_info or {"backend": getattr(parts.backend, "name", "")},
        device=parts.device.describe(),
        frame_settings={
            "min_pixels": settings.frame.min_pixels,
            "max_pixels": settings.frame.max_pixels,
            "relative": parts.dialect.relative,
            "relative_scale": parts.dialect.relative_scale,
            "patch_factor": settings.frame.factor,
            # How many screenshots each prompt carried, so replay rebuilds the same prompts.
            "history_images": settings.image_history or parts.dialect.info.default_image_history,
            "language": settings.language,
        },  # the uitars prompt names it
        versions=_versions(),
        started_at=time.time(),
    )
    writer = RunWriter(run_dir, info)
    session = Session(
        device=parts.device,
        backend=parts.backend,
        dialect=parts.dialect,
        writer=writer,
        settings=settings,
        events=parts.events,
        user=parts.user,
        secrets=parts.secrets,
        end_check=parts.end_check,
    )
    session.emit(
        "run_started",
        task=info.task,
        run_dir=str(run_dir),
        device=parts.device.name,
        dialect=parts.dialect.name,
        model=model_label(info.model),
        dry_run=settings.dry_run,
    )
    return session


def finish_run(writer: RunWriter, result: RunResult, emit: Callable[..., None], *, write_report: bool) -> RunResult:
    """Save how the run ended (the record first, then the report), then tell the console."""
    try:
        writer.update(status=result.status, message=result.message, ended_at=time.time())
    except RunWriteError as error:  # the disk is full or gone read-only: the console still says how the run ended
        log.error("%s", error)
    writer.close()
    if writer.failed and not result.unwritable:
        result = replace(result, unwritable=True)
    if write_report and not writer.failed:
        _write_report(result.run_dir)
    emit(
        "run_finished",
        status=result.status,
        message=result.message,
        run_dir=str(result.run_dir),
        steps=result.steps,
        exit_code=result.exit_code,
    )
    return result


def _run_steps(session: Session, task: Task) -> tuple[str, str]:
    try:
        return "success", run_task(session, task)
    except StopRun as stop:
        return stop.status, stop.message
    except KeyboardInterrupt as stop:
        return "interrupted", interruption_message(stop)
    except RunWriteError as error:
        return "error", f"the run cannot be recorded: {error}"
    except DeviceError as error:
        log.debug("device failure", exc_info=True)
        return "error", f"device: {error}"
    except BackendError as error:
        log.debug("backend failure", exc_info=True)
        return "error", f"model backend: {error}"
    except Exception as error:
        log.exception("the run stopped on an unexpected error")
        return "error", f"internal error: {error!r}"


def _write_report(run_dir: Path) -> None:
    """The HTML report beside the run. The run is already saved, so a report failure only warns."""
    from ..report.page import write_report

    try:
        write_report(run_dir)
    except Exception:
        log.exception("could not write the report for %s; retry with `agent report %s`", run_dir, run_dir)
