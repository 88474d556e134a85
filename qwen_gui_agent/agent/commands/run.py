"""``agent run "GOAL"`` or ``agent run TASK.yaml``: the whole product in one command.

Several task files (or a folder, a glob), several devices (``--device
android:*``, ``desktop::91,desktop::92``) or ``--parallel N`` make a suite,
run by agent/commands/suite_run.py.

Settings come from the first of: a flag, the task file, an environment
variable, the default. The environment is read here and nowhere deeper.

Exit codes: 0 success; 1 failure, stuck, budget or error; 2 bad input (flags,
a malformed device spec or --base-url, the task file, a missing secret, an
unreadable --script); 3 the model needs the user and there is no terminal; 130
interrupted (Ctrl-C, SIGTERM, or "quit" at a confirmation). Once the device is
open and the model started, every outcome is recorded; a run that never started
(bad input, a device that cannot open, a backend that cannot start) leaves no
run directory, only its message (with --json an ``error`` event).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from .device_options import DeviceFlags
from .flag_groups import with_flag_groups
from .loop_options import LoopFlags, resolve_loop_settings
from .model_options import ModelFlags
from .model_settings import resolve_model_settings

if TYPE_CHECKING:
    from ...tasks.schema import Task
    from ..runtime.secrets import Secrets
    from .run_start import StartErrors

ENV_OUT = "AGENT_RUNS_DIR"
DEFAULT_OUT = "runs"
_RUN_PANEL = "Run"

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command("run", help="Run a task (a goal in words, or a task YAML file), or a suite of task files.")(
        with_flag_groups(loop=LoopFlags, device=DeviceFlags, model=ModelFlags)(run_command)
    )


def run_command(
    context: typer.Context,
    task_args: Annotated[
        list[str],
        typer.Argument(
            metavar="TASK...", help="A goal in words, or task YAML files, folders of them or glob patterns (a suite)."
        ),
    ],
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            rich_help_panel=_RUN_PANEL,
            help="Suite: tasks run at once, each on its own device (default: one per device).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            rich_help_panel=_RUN_PANEL,
            help=f"Where run directories go (env {ENV_OUT}; default {DEFAULT_OUT}/).",
        ),
    ] = None,
    json_events: Annotated[
        bool,
        typer.Option(
            "--json", rich_help_panel=_RUN_PANEL, help="Print one JSON event per line on stdout instead of progress."
        ),
    ] = False,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            rich_help_panel=_RUN_PANEL,
            metavar="NAME",
            help="An environment variable the model may type as {{secret:NAME}} (repeatable); names used in the "
            "task are added by themselves.",
        ),
    ] = None,
    no_report: Annotated[
        bool,
        typer.Option(
            "--no-report", rich_help_panel=_RUN_PANEL, help="Do not write report.html into the run directory."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            rich_help_panel=_RUN_PANEL,
            help="Thoughts and device commands too, INFO logs (-vv: debug); same as `agent -v run`.",
        ),
    ] = 0,
    *,
    loop: LoopFlags,
    device: DeviceFlags,
    model: ModelFlags,
) -> None:
    # Imported here, not at the top: `agent --help` stays quick.
    from ...tools.dialects import get_dialect
    from ..records.run_files import RunWriteError
    from ..runtime.console import JsonEvents, UserChannel
    from ..runtime.progress import RichEvents
    from ..runtime.runner import NotStarted, RunParts, execute_run
    from .run_start import StartErrors, check_backend_inputs, open_device, start_backend
    from .verbosity import command_verbosity

    verbose = command_verbosity(context, verbose)
    environ = dict(os.environ)
    if _suite_requested(task_args, device.device, parallel):
        _run_suite(task_args, parallel, out, environ, json_events, no_report, secret or [], model, device, loop)
    task_arg = task_args[0]
    events = JsonEvents(sys.stdout) if json_events else RichEvents(Console(highlight=False), verbose=verbose)
    errors = StartErrors(Console(stderr=True, soft_wrap=True, highlight=False), events if json_events else None)
    task, task_file = _load(task_arg, environ, errors)
    secrets = _secrets(task, secret or [], environ, errors)
    _redact_logs(secrets)
    try:
        choice = resolve_model_settings(model, environ=environ, task=task.model.model_dump(exclude_none=True))
        settings = resolve_loop_settings(loop, task, choice.settings, environ)
        spec = _device_spec(device.device, task, environ)
        if task.needs_model():
            check_backend_inputs(choice.settings)
    except typer.BadParameter as error:
        errors.bad_input(str(error))
    user = UserChannel(events=events)
    if loop.confirm and not user.interactive:
        errors.bad_input("--confirm asks at a terminal, and stdin is not one")
    model_info = choice.public_dict() if task.needs_model() else {**choice.public_dict(), "started": False}
    with ExitStack() as stack:
        if json_events:  # stdout carries only events: anything a library prints (python-xlib does) goes to stderr
            stack.enter_context(redirect_stdout(sys.stderr))
        stack.enter_context(_signals_as_interrupt())
        stack.callback(getattr(events, "close", lambda: None))  # a live status line ends with the run
        try:
            opened = stack.enter_context(open_device(errors, spec, device, environ))
            # local: weights load here; a task of literal steps starts no model at all
            model_backend = stack.enter_context(start_backend(choice.settings, events, needed=task.needs_model()))
        except NotStarted as failure:
            errors.not_started(failure)
        parts = RunParts(
            task=task,
            device=opened,
            backend=model_backend,
            dialect=get_dialect(choice.dialect, coordinates=choice.coordinates),
            settings=settings,
            events=events,
            out_dir=out or Path(environ.get(ENV_OUT) or DEFAULT_OUT),
            user=user,
            secrets=secrets,
            task_file=task_file,
            model_info=model_info,
            write_report=not no_report,
        )
        try:
            result = execute_run(parts)
        except RunWriteError as error:  # --out cannot hold a run (read-only, full, a file): nothing was recorded
            errors.bad_input(str(error))
    raise typer.Exit(result.exit_code)


def _suite_requested(task_args: list[str], device: str | None, parallel: int | None) -> bool:
    from .suite_run import is_suite

    return is_suite(task_args, device, parallel)


def _run_suite(
    task_args: list[str],
    parallel: int | None,
    out: Path | None,
    environ: dict[str, str],
    json_events: bool,
    no_report: bool,
    secrets: list[str],
    model: ModelFlags,
    device: DeviceFlags,
    loop: LoopFlags,
) -> NoReturn:
    """Several tasks or devices: the suite runner (agent/commands/suite_run.py) takes over."""
    from .run_start import StartErrors
    from .suite_run import SuiteCall, run_suite_command

    errors = StartErrors(Console(stderr=True, soft_wrap=True, highlight=False), None)
    call = SuiteCall(
        task_args=task_args,
        parallel=parallel,
        out_dir=out or Path(environ.get(ENV_OUT) or DEFAULT_OUT),
        environ=environ,
        errors=errors,
        model=model,
        device=device,
        loop=loop,
        signals=_signals_as_interrupt,
        json_events=json_events,
        write_report=not no_report,
        extra_secrets=secrets,
    )
    raise typer.Exit(run_suite_command(call))


def _device_spec(flag: str | None, task: Task, environ: Mapping[str, str]) -> str:
    """The device to use (flag, task file, environment, default), checked: a malformed spec is bad input."""
    from ...devices import parse_device_spec
    from ...devices.errors import DeviceError
    from .device_options import DEFAULT_DEVICE, ENV_DEVICE

    task_spec = task.device.spec() if task.device else None
    spec, origin = next(
        (value, origin)
        for value, origin in (
            (flag, "--device"),
            (task_spec, "the task file's device"),
            (environ.get(ENV_DEVICE), ENV_DEVICE),
            (DEFAULT_DEVICE, "the default device"),
        )
        if value
    )
    try:
        parse_device_spec(spec)
    except DeviceError as error:
        raise typer.BadParameter(f"{origin} {spec}: {error}") from None
    return spec


def _load(task_arg: str, environ: Mapping[str, str], errors: StartErrors) -> tuple[Task, str | None]:
    try:
        return read_task_argument(task_arg, environ)
    except TaskArgumentError as error:
        errors.bad_input(str(error))


class TaskArgumentError(ValueError):
    """The TASK argument is no usable task: bad input."""


def read_task_argument(task_arg: str, environ: Mapping[str, str]) -> tuple[Task, str | None]:
    """The task TASK stands for, and its file if it is one.

    A task file is an existing file whose name ends in .yaml/.yml. A name like
    that with no spaces that is not a file is a mistyped path, not a goal; any
    other text is a goal, even ``open config.yaml`` or one that names a file.
    """
    from ...tasks.loader import TaskFileError, is_encodable, load_task
    from ...tasks.schema import Task
    from ..files.paths import is_file_quietly

    text = task_arg.strip()
    if not text:
        raise TaskArgumentError("the task is empty: give a goal in words or a task YAML file")
    if not is_encodable(text):  # a byte that is not UTF-8 reaches Python as a lone surrogate
        raise TaskArgumentError(f"the task is not valid UTF-8 text: {text.encode('utf-8', 'replace').decode()!r}")
    if text.lower().endswith((".yaml", ".yml")):
        path = Path(text)
        if is_file_quietly(path):  # not OSError for a part over 255 bytes (issue 22, item 5)
            try:
                return load_task(path, environ), text
            except TaskFileError as error:
                raise TaskArgumentError(str(error)) from None
        if not any(character.isspace() for character in text):
            raise TaskArgumentError(f"no such task file: {text} (a goal in words needs spaces; a task file must exist)")
    return Task.from_goal(text), None


def _secrets(task: Task, extra: list[str], environ: Mapping[str, str], errors: StartErrors) -> Secrets:
    from ..runtime.secrets import MissingSecret, Secrets, referenced_names

    names = [*task.secrets, *referenced_names(task.texts()), *extra]
    try:
        return Secrets.from_environment(names, environ)
    except MissingSecret as error:
        errors.bad_input(str(error))


def _redact_logs(secrets: Secrets) -> None:
    """Secret values never reach a log line, whoever logs them."""
    from ..runtime.secrets import RedactingFilter

    if not secrets:
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.addFilter(RedactingFilter(secrets))


@contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C (cleanly, saved as interrupted), and the record names the signal."""

    from ..runtime.runner import SignalInterrupt

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise SignalInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
