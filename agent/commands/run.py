"""``agent run "GOAL"`` or ``agent run TASK.yaml``: the whole product in one command.

Settings come from the first of: a flag, the task file, an environment
variable, the default. The environment is read here and nowhere deeper.

Exit codes: 0 success; 1 failure, stuck, budget or error; 2 bad input (flags,
task file, missing secret); 3 the model needs the user and there is no
terminal; 130 interrupted (Ctrl-C, SIGTERM, or "quit" at a confirmation).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from agent.commands.device import (
    AdbHostOpt,
    AdbPortOpt,
    DeviceOpt,
    FailsafeOpt,
    MonitorOpt,
    OriginOpt,
    RegionOpt,
    ScaleOpt,
    UnicodeInputOpt,
)
from agent.commands.model_options import (
    ApiKeyEnvOption,
    BackendOption,
    BaseUrlOption,
    CoordsOption,
    DialectOption,
    FastOption,
    ImageFormatOption,
    JpegQualityOption,
    MaxNewTokensOption,
    MaxPixelsOption,
    MaxRetriesOption,
    MinPixelsOption,
    ModelOption,
    RequestTimeoutOption,
    ScriptOption,
    SourceOption,
    TemperatureOption,
    TorchDeviceOption,
)

if TYPE_CHECKING:
    from agent.backends.settings import BackendSettings
    from agent.secrets import Secrets
    from agent.session import LoopSettings
    from devices.base import Device
    from tasks.schema import Task

EXIT_BAD_INPUT = 2
ENV_OUT = "AGENT_RUNS_DIR"
ENV_MAX_STEPS = "AGENT_MAX_STEPS"
ENV_TIMEOUT = "AGENT_TIMEOUT"
DEFAULT_OUT = "runs"
DEFAULT_MAX_STEPS = 30
_RUN_PANEL = "Run"

log = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    app.command("run", help="Run a task: a goal in words, or a task YAML file.")(run_command)


def run_command(
    task_arg: Annotated[str, typer.Argument(metavar="TASK", help="A goal in words, or a task YAML file.")],
    max_steps: Annotated[int | None, typer.Option(
        "--max-steps", min=1, rich_help_panel=_RUN_PANEL,
        help=f"Model steps per goal (task max_steps; env {ENV_MAX_STEPS}; default {DEFAULT_MAX_STEPS}).")] = None,
    timeout: Annotated[str | None, typer.Option(
        "--timeout", rich_help_panel=_RUN_PANEL, metavar="DURATION",
        help=f"Wall time for the whole run: seconds or 90s, 5m, 1h (task timeout; env {ENV_TIMEOUT}).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", rich_help_panel=_RUN_PANEL, help="Print each action's device commands instead of sending them.")
    ] = False,
    confirm: Annotated[bool, typer.Option(
        "--confirm", rich_help_panel=_RUN_PANEL, help="Ask before each action: y(es) / n(o) / e(dit) / q(uit).")
    ] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", rich_help_panel=_RUN_PANEL,
        help=f"Where run directories go (env {ENV_OUT}; default {DEFAULT_OUT}/).")] = None,
    json_events: Annotated[bool, typer.Option(
        "--json", rich_help_panel=_RUN_PANEL, help="Print one JSON event per line on stdout instead of progress.")
    ] = False,
    secret: Annotated[list[str] | None, typer.Option(
        "--secret", rich_help_panel=_RUN_PANEL, metavar="NAME",
        help="An environment variable the model may type as {{secret:NAME}} (repeatable); names used in the "
        "task are added by themselves.")] = None,
    stuck_after: Annotated[int | None, typer.Option(
        "--stuck-after", min=0, rich_help_panel=_RUN_PANEL,
        help="End as stuck after the same action on an unchanged screen this many times (0 = never; default 3).")] = None,
    max_parse_errors: Annotated[int | None, typer.Option(
        "--max-parse-errors", min=0, rich_help_panel=_RUN_PANEL,
        help="Unusable answers fed back in a row before the run fails (default 3).")] = None,
    history_images: Annotated[int | None, typer.Option(
        "--history-images", min=1, rich_help_panel=_RUN_PANEL,
        help="Screenshots in each prompt, the current one included (default: the dialect's).")] = None,
    settle: Annotated[float | None, typer.Option(
        "--settle", min=0.0, rich_help_panel=_RUN_PANEL, metavar="SECONDS",
        help="Pause after acting, so the screen redraws before the next screenshot (default 0.5).")] = None,
    no_report: Annotated[bool, typer.Option(
        "--no-report", rich_help_panel=_RUN_PANEL, help="Do not write report.html into the run directory.")] = False,
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, rich_help_panel=_RUN_PANEL, help="Thoughts and device commands too.")] = 0,
    device: DeviceOpt = None,
    monitor: MonitorOpt = None,
    region: RegionOpt = None,
    scale: ScaleOpt = None,
    origin: OriginOpt = None,
    failsafe: FailsafeOpt = None,
    unicode_input: UnicodeInputOpt = None,
    adb_host: AdbHostOpt = None,
    adb_port: AdbPortOpt = None,
    backend: BackendOption = None,
    model: ModelOption = None,
    base_url: BaseUrlOption = None,
    api_key_env: ApiKeyEnvOption = None,
    max_pixels: MaxPixelsOption = None,
    min_pixels: MinPixelsOption = None,
    dialect: DialectOption = None,
    coords: CoordsOption = None,
    max_new_tokens: MaxNewTokensOption = None,
    source: SourceOption = None,
    script: ScriptOption = None,
    temperature: TemperatureOption = None,
    request_timeout: RequestTimeoutOption = None,
    max_retries: MaxRetriesOption = None,
    image_format: ImageFormatOption = None,
    jpeg_quality: JpegQualityOption = None,
    torch_device: TorchDeviceOption = None,
    fast: FastOption = None,
) -> None:
    from agent.backends import create_backend
    from agent.backends.base import BackendError
    from agent.commands.model_options import resolve_model_settings
    from agent.console import JsonEvents, RichEvents, UserChannel
    from agent.runner import EXIT_CODES, RunParts, execute_run
    from tools.dialects import get_dialect

    environ = dict(os.environ)
    err = Console(stderr=True, soft_wrap=True, highlight=False)
    task, task_file = _load(task_arg, environ, err)
    secrets = _secrets(task, secret or [], environ, err)
    _redact_logs(secrets)
    try:
        choice = resolve_model_settings(
            environ=environ, task=task.model.model_dump(exclude_none=True), backend=backend, model=model,
            base_url=base_url, api_key_env=api_key_env, min_pixels=min_pixels, max_pixels=max_pixels,
            dialect=dialect, coords=coords, max_new_tokens=max_new_tokens, source=source, script=script,
            temperature=temperature, request_timeout=request_timeout, max_retries=max_retries,
            image_format=image_format, jpeg_quality=jpeg_quality, torch_device=torch_device, fast=fast,
        )
        settings = _loop_settings(task, choice.settings, environ, max_steps=max_steps, timeout=timeout,
                                  dry_run=dry_run, confirm=confirm, stuck_after=stuck_after,
                                  max_parse_errors=max_parse_errors, history_images=history_images, settle=settle)
    except typer.BadParameter as error:
        _bad_input(err, str(error))
    user = UserChannel()
    if confirm and not user.interactive:
        _bad_input(err, "--confirm asks at a terminal, and stdin is not one")
    events = JsonEvents(sys.stdout) if json_events else RichEvents(Console(highlight=False), verbose=verbose)
    spec = device or (task.device.spec() if task.device else None)
    device_options = {"monitor": monitor, "region": region, "scale": scale, "origin": origin, "failsafe": failsafe,
                      "unicode_input": unicode_input, "adb_host": adb_host, "adb_port": adb_port}
    # With --json, stdout carries only events: anything a library prints (python-xlib does) goes to stderr.
    with redirect_stdout(sys.stderr) if json_events else nullcontext():
        opened = _open_device(err, spec, device_options, environ)
        with opened, _sigterm_as_interrupt():
            try:
                model_backend = create_backend(choice.settings)  # the local backend loads weights here
            except BackendError as error:
                _fail(err, "cannot start the model backend", error)
            except KeyboardInterrupt:
                err.print("interrupted while the model backend was starting; no run was recorded")
                raise typer.Exit(EXIT_CODES["interrupted"]) from None
            with model_backend:
                parts = RunParts(
                    task=task, device=opened, backend=model_backend,
                    dialect=get_dialect(choice.dialect, coordinates=choice.coordinates), settings=settings,
                    events=events, out_dir=out or Path(environ.get(ENV_OUT) or DEFAULT_OUT), user=user,
                    secrets=secrets, task_file=task_file, model_info=choice.public_dict(),
                    write_report=not no_report,
                )
                result = execute_run(parts)
    raise typer.Exit(result.exit_code)


def _open_device(err: Console, spec: str | None, options: dict[str, object], environ: Mapping[str, str]) -> Device:
    from agent.commands.device import open_device_for_cli
    from devices.errors import DeviceError

    try:
        return open_device_for_cli(spec, **options, environ=environ)
    except typer.BadParameter as error:
        _bad_input(err, str(error))
    except DeviceError as error:
        _fail(err, "cannot open the device", error)


def _load(task_arg: str, environ: Mapping[str, str], err: Console) -> tuple[Task, str | None]:
    from tasks.loader import TaskFileError, load_task
    from tasks.schema import Task

    path = Path(task_arg)
    if task_arg.endswith((".yaml", ".yml")) or path.is_file():
        try:
            return load_task(path, environ), str(path)
        except TaskFileError as error:
            _bad_input(err, str(error))
    if not task_arg.strip():
        _bad_input(err, "the task is empty: give a goal in words or a task YAML file")
    return Task.from_goal(task_arg.strip()), None


def _secrets(task: Task, extra: list[str], environ: Mapping[str, str], err: Console) -> Secrets:
    from agent.secrets import MissingSecret, Secrets, referenced_names

    names = [*task.secrets, *referenced_names(task.texts()), *extra]
    try:
        return Secrets.from_environment(names, environ)
    except MissingSecret as error:
        _bad_input(err, str(error))


def _loop_settings(task: Task, backend_settings: BackendSettings, environ: Mapping[str, str], *, max_steps: int | None,
                   timeout: str | None, **flags: object) -> LoopSettings:
    from agent.session import LoopSettings
    from tasks.schema import parse_duration

    def from_env(name: str, convert: type) -> object:
        raw = environ.get(name, "").strip()
        if not raw:
            return None
        try:
            return convert(parse_duration(raw)) if name == ENV_TIMEOUT else convert(raw)
        except ValueError as error:
            raise typer.BadParameter(f"{name}={raw!r}: {error}") from None

    try:
        timeout_s = float(parse_duration(timeout)) if timeout is not None else None
    except ValueError as error:
        raise typer.BadParameter(f"--timeout: {error}") from None
    given = {name: value for name, value in flags.items() if value is not None}
    renamed = {"history_images": "image_history", "settle": "settle_s"}
    return LoopSettings(
        max_steps=max_steps or task.max_steps or from_env(ENV_MAX_STEPS, int) or DEFAULT_MAX_STEPS,
        timeout_s=timeout_s or task.timeout or from_env(ENV_TIMEOUT, float),
        min_pixels=backend_settings.min_pixels, max_pixels=backend_settings.max_pixels,
        **{renamed.get(name, name): value for name, value in given.items()},
    )


def _redact_logs(secrets: Secrets) -> None:
    """Secret values never reach a log line, whoever logs them."""
    from agent.secrets import RedactingFilter

    if not secrets:
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.addFilter(RedactingFilter(secrets))


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C: cleanly, saved as interrupted."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _bad_input(err: Console, message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)


def _fail(err: Console, what: str, error: Exception) -> typer.Exit:
    err.print(f"[red]{escape(what)}:[/red] {escape(str(error))}")
    raise typer.Exit(1)
