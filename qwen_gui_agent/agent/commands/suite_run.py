"""``agent run`` with several task files (files, folders, globs) or several devices: a suite.

    agent run tasks/ --device android:* --parallel 4
    agent run 'tasks/*.yaml' --device desktop::91,desktop::92 --backend openai

Every task is checked before anything runs (bad input exits 2 and records
nothing). Then one backend per model setting serves every worker (the local
model is loaded once and its steps are batched; an OpenAI-compatible server
gets concurrent requests; a scripted backend plays each task's own script),
each task gets its own run directory inside the suite's directory, and the
suite ends with a table, suite.json, junit.xml and index.html there.

run.py hands this module the flag groups as it got them, and its own error reporting and signal
handling, so the two modules do not import each other.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from ...devices.base import Device
    from ..backends.base import ModelBackend
    from ..backends.settings import BackendSettings
    from ..runtime.console import EventSink
    from ..runtime.runner import RunParts, RunPlan
    from ..runtime.secrets import Secrets
    from ..runtime.session import LoopSettings
    from ..suite.runner import SuiteTask
    from .device_options import DeviceFlags
    from .loop_options import LoopFlags
    from .model_options import ModelFlags
    from .model_settings import ModelChoice


class BadInput(Protocol):
    def bad_input(self, message: str) -> NoReturn: ...


@dataclass(frozen=True)
class SuiteCall:
    """What ``agent run`` was given, for a suite."""

    task_args: list[str]
    parallel: int | None
    out_dir: Path
    environ: Mapping[str, str]
    errors: BadInput
    model: ModelFlags
    device: DeviceFlags
    loop: LoopFlags
    signals: Callable[[], AbstractContextManager[None]]
    json_events: bool = False
    write_report: bool = True
    extra_secrets: list[str] = field(default_factory=list)


def is_suite(task_args: list[str], device: str | None, parallel: int | None) -> bool:
    """Several tasks, a folder or glob, several devices or --parallel: a suite rather than one run."""
    from ..suite.tasks import looks_like_suite

    several_devices = device is not None and ("," in device or device.strip().endswith("*"))
    return len(task_args) > 1 or parallel is not None or several_devices or any(map(looks_like_suite, task_args))


@dataclass(frozen=True)
class _Prepared:
    task: SuiteTask
    choice: ModelChoice
    settings: LoopSettings
    secrets: Secrets


def run_suite_command(call: SuiteCall) -> int:
    """Check everything, run the suite, write its summary; the exit code."""
    from ..records.run_files import RunWriteError
    from ..runtime.runner import EXIT_UNWRITABLE, make_run_directory
    from ..suite.guard import StopSignal
    from ..suite.pool import DevicePool, at_once
    from ..suite.progress import SuiteRecord
    from ..suite.runner import run_suite
    from ..suite.summary import console_table

    if call.loop.confirm:
        call.errors.bad_input("--confirm asks about one run at a terminal; a suite runs several at once")
    prepared = _prepare_tasks(call)
    devices = _device_pool_specs(call)
    parallel = call.parallel or len(devices)
    console = Console(stderr=call.json_events, highlight=False, soft_wrap=True)
    try:
        suite_dir = make_run_directory(call.out_dir, "suite")
    except RunWriteError as error:  # read-only, full, a file in the way: nothing runs, nothing is recorded
        call.errors.bad_input(str(error))
    backends = _SharedBackends(parallel=parallel)
    launcher = _launcher(call, prepared, backends, suite_dir, console)
    console.print(
        f"suite: {len(prepared)} tasks on {len(devices)} devices ({escape(', '.join(devices))}), "
        f"{at_once(parallel, len(devices), len(prepared))}; runs in {escape(str(suite_dir))}"
    )
    tasks = [item.task for item in prepared.values()]
    try:  # suite.json, junit.xml and index.html from the start, kept current: after kill -9 they say "running"
        record = SuiteRecord(suite_dir, tasks, devices, parallel, next(iter(prepared.values())).choice.public_dict())
    except OSError as error:
        call.errors.bad_input(str(RunWriteError(suite_dir, error)))
    with call.signals():
        try:
            run = run_suite(
                tasks,
                DevicePool(list(devices)),
                launcher,
                parallel=parallel,
                stop=StopSignal(),
                on_change=record.on_change,
                announce=lambda text: console.print(escape(text)),
            )
        finally:
            backends.close()
    try:
        summary, written = record.finish(run)
    except OSError as error:  # the disk filled up or went read-only during the suite
        console.print(f"[red]error:[/red] {escape(str(RunWriteError(suite_dir, error)))}")
        return EXIT_UNWRITABLE
    console.print(console_table(summary))
    console.print(f"suite saved in {escape(str(suite_dir))}: " + ", ".join(path.name for path in written))
    return summary.exit_code


def _prepare_tasks(call: SuiteCall) -> dict[Path, _Prepared]:
    from ...tasks.loader import TaskFileError, load_task
    from ..runtime.secrets import MissingSecret, Secrets, referenced_names
    from ..suite.runner import SuiteTask
    from ..suite.tasks import SuiteInputError, expand_task_files
    from .loop_options import resolve_loop_settings
    from .model_settings import resolve_model_settings
    from .run_start import check_backend_inputs

    try:
        paths = expand_task_files(call.task_args)
    except SuiteInputError as error:
        call.errors.bad_input(str(error))
    prepared: dict[Path, _Prepared] = {}
    for number, path in enumerate(paths, start=1):
        try:
            task = load_task(path, call.environ)
            names = [*task.secrets, *referenced_names(task.texts()), *call.extra_secrets]
            secrets = Secrets.from_environment(names, call.environ)
            choice = resolve_model_settings(
                call.model, environ=call.environ, task=task.model.model_dump(exclude_none=True)
            )
            if task.needs_model():
                check_backend_inputs(choice.settings)  # a missing script, model or adapter folder: bad input
            settings = resolve_loop_settings(call.loop, task, choice.settings, call.environ)
        except (TaskFileError, MissingSecret) as error:
            call.errors.bad_input(str(error))
        except typer.BadParameter as error:
            call.errors.bad_input(f"{path}: {error}")
        prepared[path] = _Prepared(SuiteTask(path, task, number), choice, settings, secrets)
    return prepared


def _device_pool_specs(call: SuiteCall) -> list[str]:
    from ...devices import parse_device_spec
    from ...devices.errors import DeviceError
    from ..suite.pool import expand_device_specs, split_device_specs
    from ..suite.tasks import SuiteInputError
    from .device_options import DEFAULT_DEVICE, ENV_DEVICE, android_settings_for_cli, desktop_settings_for_cli

    try:  # bad device flags are bad input here, before any worker meets them
        desktop_settings_for_cli(call.device, call.environ)
        android = android_settings_for_cli(call.device, call.environ)
    except typer.BadParameter as error:
        call.errors.bad_input(str(error))

    def ready_serials() -> list[str]:
        from ...devices.android.device import list_android

        return [info.serial for info in list_android(android) if info.state == "device"]

    text = call.device.device or call.environ.get(ENV_DEVICE) or DEFAULT_DEVICE
    try:
        specs = expand_device_specs(split_device_specs(text), ready_serials)
        for spec in specs:
            parse_device_spec(spec)
    except (SuiteInputError, DeviceError) as error:
        call.errors.bad_input(f"--device {text}: {error}")
    return specs


class _SharedBackends:
    """One backend per model setting, shared by every worker; a scripted backend is each task's own.

    The local backend is wrapped in the batching scheduler when more than one run goes at once.
    """

    def __init__(self, *, parallel: int) -> None:
        self._parallel = parallel
        self._lock = threading.Lock()
        self._shared: dict[BackendSettings, ModelBackend] = {}
        self._own: list[ModelBackend] = []

    def get(self, settings: BackendSettings) -> ModelBackend:
        from ..backends import create_backend

        if settings.kind == "scripted":  # each task replays its own script from its first answer
            backend = create_backend(settings)
            with self._lock:
                self._own.append(backend)
            return backend
        with self._lock:  # the first worker loads the weights; the others wait for them here
            if settings not in self._shared:
                self._shared[settings] = self._create(settings)
            return self._shared[settings]

    def _create(self, settings: BackendSettings) -> ModelBackend:
        from ..backends import create_backend

        backend = create_backend(settings)
        if settings.kind == "local" and self._parallel > 1:
            from ..backends.batching import BatchingBackend

            return BatchingBackend(backend, max_batch=self._parallel)
        return backend

    def close(self) -> None:
        with self._lock:
            for backend in [*self._shared.values(), *self._own]:
                backend.close()
            self._shared.clear()
            self._own.clear()


@dataclass
class _SuiteEvents:
    """Per-run events in a suite: with --json every event, tagged with its task and device; else one line per
    run start and end (parallel runs' step lines would interleave unreadably; each run's report has them)."""

    sink: EventSink | None
    console: Console
    task: str
    device: str
    lock: threading.Lock

    def emit(self, event: str, data: dict[str, Any]) -> None:
        with self.lock:
            if self.sink is not None:
                self.sink.emit(event, {"suite_task": self.task, "suite_device": self.device, **data})
            elif event == "run_started":
                self.console.print(f"[dim]{escape(self.device)}[/dim] {escape(self.task)}: started")
            elif event == "run_finished":
                colour = "green" if data["status"] == "success" else "red"
                self.console.print(
                    f"[dim]{escape(self.device)}[/dim] {escape(self.task)}: "
                    f"[{colour}]{escape(str(data['status']))}[/] after {data['steps']} steps"
                )


def _launcher(
    call: SuiteCall, prepared: dict[Path, _Prepared], backends: _SharedBackends, suite_dir: Path, console: Console
) -> Any:
    from ...devices.errors import DeviceError
    from ...tools.dialects import get_dialect
    from ..backends.no_model import NoModelBackend
    from ..runtime.console import JsonEvents
    from ..runtime.runner import RunParts, RunPlan
    from ..suite.runner import Launcher
    from .device_options import open_device_for_cli

    lock = threading.Lock()
    json_sink = JsonEvents() if call.json_events else None

    def open_device(spec: str) -> Device:
        try:
            return open_device_for_cli(call.device, call.environ, spec)
        except typer.BadParameter as error:
            raise DeviceError(str(error)) from None

    def parts_for(task: SuiteTask, device: Device, backend: ModelBackend, events: EventSink) -> RunParts:
        item = prepared[task.path]
        return RunParts(
            task=task.task,
            device=device,
            backend=backend,
            dialect=get_dialect(item.choice.dialect, coordinates=item.choice.coordinates),
            settings=item.settings,
            events=events,
            out_dir=suite_dir / task.folder,
            user=None,
            secrets=item.secrets,
            task_file=str(task.path),
            model_info=item.choice.public_dict(),
            write_report=call.write_report,
        )

    def plan_for(task: SuiteTask, spec: str, events: EventSink) -> RunPlan:
        item = prepared[task.path]
        return RunPlan(
            task=task.task,
            events=events,
            out_dir=suite_dir / task.folder,
            dialect=item.choice.dialect,
            device_spec=spec,
            task_file=str(task.path),
            model_info=item.choice.public_dict(),
            secrets=item.secrets,
            write_report=call.write_report,
        )

    return Launcher(
        open_device=open_device,
        # A task of literal steps (launch, do, wait ...) starts no model, as in a single run.
        backend_for=lambda task: (
            backends.get(prepared[task.path].choice.settings) if task.task.needs_model() else NoModelBackend()
        ),
        parts_for=parts_for,
        plan_for=plan_for,
        events_for=lambda task, spec: _SuiteEvents(json_sink, console, str(task.path), spec, lock),
    )
