"""A suite's workers: each takes the next task and a free device, runs it as ``agent run`` would, and goes on.

One thread per device in use (at most ``parallel``). A run's record is the
same as a single run's: its own run directory under the suite's. A device
that drops (DeviceDisconnected) or cannot open fails its task and is retired;
the other workers go on. When every device is retired, the tasks left are
recorded as not run. Ctrl-C (or SIGTERM) in the main thread stops the suite:
every running task ends as interrupted at its next device or model call, and
the tasks not started are recorded as not run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...devices.base import Device
from ...devices.errors import DeviceError
from ...tasks.schema import Task
from ..backends.base import BackendError, ModelBackend
from ..records.run_files import RunWriteError
from ..runtime.console import EventSink
from ..runtime.runner import NotStarted, RunParts, RunPlan, RunResult, execute_run, record_unstarted_run
from .guard import GuardedBackend, GuardedDevice, StopSignal
from .pool import DevicePool

log = logging.getLogger(__name__)

NOT_RUN = "not_run"
# While the suite goes (and in its files after a kill -9): a task not started yet, and one under way.
PENDING, RUNNING = "pending", "running"


@dataclass(frozen=True)
class SuiteTask:
    path: Path
    task: Task
    number: int = 1  # its place in the suite, from 1

    @property
    def title(self) -> str:
        return self.task.title()

    @property
    def folder(self) -> str:
        """Where its run directory goes inside the suite's: one folder per task, so parallel runs of
        tasks with the same title never race for one run directory name."""
        return f"{self.number:03d}-{self.path.stem}"


@dataclass(frozen=True)
class TaskOutcome:
    """How one task of the suite ended (a not-run task has no device and no run directory)."""

    path: Path
    title: str
    status: str
    message: str
    device: str | None = None
    run_dir: Path | None = None
    steps: int = 0
    seconds: float = 0.0
    unwritable: bool = False  # its run directory could not be written (read-only, a full disk)


@dataclass(frozen=True)
class Launcher:
    """What the command line supplies: how to open a device, get the backend, and assemble a run."""

    open_device: Callable[[str], Device]  # DeviceError when it cannot
    backend_for: Callable[[SuiteTask], ModelBackend]  # BackendError when it cannot; shared backends are reused
    parts_for: Callable[[SuiteTask, Device, ModelBackend, EventSink], RunParts]
    plan_for: Callable[[SuiteTask, str, EventSink], RunPlan]  # for a run that cannot start
    events_for: Callable[[SuiteTask, str], EventSink]


@dataclass(frozen=True)
class SuiteRun:
    outcomes: tuple[TaskOutcome, ...]
    retired: dict[str, str]
    interrupted: bool


def run_suite(
    tasks: list[SuiteTask],
    pool: DevicePool,
    launcher: Launcher,
    *,
    parallel: int,
    stop: StopSignal | None = None,
    on_change: Callable[[int, TaskOutcome], None] | None = None,
    announce: Callable[[str], None] = log.warning,
) -> SuiteRun:
    """Every task run on some device of ``pool``, at most ``parallel`` at once; outcomes in task order.

    ``on_change(index, outcome)`` hears of each task as it starts (status ``running``) and as it ends, from the
    worker threads (``progress.SuiteRecord`` keeps the suite's files current with it). ``announce`` tells the
    person what a Ctrl-C (or SIGTERM) does, the moment it arrives.
    """
    stop = stop or StopSignal()
    tell = on_change or (lambda index, outcome: None)
    waiting = deque(enumerate(tasks))
    outcomes: dict[int, TaskOutcome] = {}
    lock = threading.Lock()
    finished: list[str] = []
    all_done = threading.Event()

    def next_task() -> tuple[int, SuiteTask] | None:
        with lock:
            return waiting.popleft() if waiting else None

    def worker() -> None:
        try:
            work()
        finally:
            with lock:
                finished.append(threading.current_thread().name)
                if len(finished) == len(workers):
                    all_done.set()

    def work() -> None:
        while not stop.event.is_set() and (item := next_task()) is not None:
            index, task = item
            spec = pool.acquire(stop.event)
            if spec is None:
                with lock:
                    waiting.appendleft(item)  # recorded below as not run
                return
            tell(index, TaskOutcome(task.path, task.title, RUNNING, "", spec))
            outcome = _run_one(task, spec, pool, launcher, stop)
            with lock:
                outcomes[index] = outcome
            tell(index, outcome)

    workers = [
        threading.Thread(target=worker, name=f"suite-worker-{n}", daemon=True)
        for n in range(max(1, min(parallel, len(pool.specs), len(tasks))))
    ]
    for thread in workers:
        thread.start()
    _wait_for(all_done, stop, announce)
    for thread in workers:
        thread.join()
    reason = (
        "the suite was stopped before this task started"
        if stop.event.is_set()
        else "no device left: every device of the suite dropped or could not open"
    )
    for index, task in waiting:
        outcomes[index] = TaskOutcome(task.path, task.title, NOT_RUN, reason)
    return SuiteRun(tuple(outcomes[index] for index in sorted(outcomes)), pool.retired, stop.event.is_set())


def _wait_for(all_done: threading.Event, stop: StopSignal, announce: Callable[[str], None]) -> None:
    """Wait for the workers; a Ctrl-C (even a second one) stops the suite and waits for the runs to save.

    (An Event, not Thread.join: a KeyboardInterrupt landing inside join can leave the thread looking
    finished while it still runs, on the Pythons we support.)
    """
    while not all_done.is_set():
        try:
            all_done.wait(timeout=0.2)
        except KeyboardInterrupt as cause:
            if not stop.event.is_set():
                stop.stop(cause)
                announce(
                    f"stopping the suite ({str(cause) or 'Ctrl-C'}): each running task ends now and is recorded as "
                    "interrupted; the tasks not started are recorded as not run"
                )


def _run_one(task: SuiteTask, spec: str, pool: DevicePool, launcher: Launcher, stop: StopSignal) -> TaskOutcome:
    started = time.perf_counter()
    events = launcher.events_for(task, spec)
    message = ""
    try:
        result, dropped = _start_and_run(task, spec, launcher, events, stop)
    except RunWriteError as error:  # its run directory cannot be made: said in one line, the suite goes on
        result, dropped = None, None
        message = str(error)
    except Exception as error:  # a worker must record its task whatever goes wrong, and live on
        log.exception("task %s on %s stopped on an unexpected error", task.path, spec)
        result, dropped = None, None
        message = f"internal error: {error!r}"
    if dropped is not None:
        pool.retire(spec, dropped)
    else:
        pool.release(spec)
    seconds = time.perf_counter() - started
    if result is None:
        return TaskOutcome(
            task.path,
            task.title,
            "error",
            message,
            spec,
            None,
            0,
            seconds,
            unwritable=message.startswith("cannot write"),
        )
    return TaskOutcome(
        task.path,
        task.title,
        result.status,
        result.message,
        spec,
        result.run_dir,
        result.steps,
        seconds,
        unwritable=result.unwritable,
    )


def _start_and_run(
    task: SuiteTask, spec: str, launcher: Launcher, events: EventSink, stop: StopSignal
) -> tuple[RunResult, str | None]:
    """The run's result, and why its device must leave the pool (None: it stays)."""
    try:
        device = launcher.open_device(spec)
    except DeviceError as error:
        failure = NotStarted("error", f"cannot open the device {spec}: {error}")
        return record_unstarted_run(launcher.plan_for(task, spec, events), failure), str(error)
    guarded = GuardedDevice(device, stop)
    try:
        try:
            backend = launcher.backend_for(task)
        except BackendError as error:
            failure = NotStarted("error", f"cannot start the model backend: {error}")
            return record_unstarted_run(launcher.plan_for(task, spec, events), failure), None
        result = execute_run(launcher.parts_for(task, guarded, GuardedBackend(backend, stop), events))
    finally:
        _close(device, spec)
    return result, (str(guarded.dropped) if guarded.dropped is not None else None)


def _close(device: Device, spec: str) -> None:
    # A dropped device often cannot be closed cleanly (an X server that died raises from xcb): its run is saved
    # already, and how it ended must reach the summary, so nothing raised here ends the task as an internal error.
    try:
        device.close()
    except DeviceError as error:
        log.info("closing %s: %s", spec, error)
    except Exception as error:  # noqa: BLE001 - whatever a driver raises on close, the task's record stands
        log.warning("closing %s failed: %s: %s", spec, type(error).__name__, error)


def outcome_data(outcome: TaskOutcome) -> dict[str, Any]:
    return {
        "task": outcome.title,
        "file": str(outcome.path),
        "status": outcome.status,
        "message": outcome.message,
        "device": outcome.device,
        "run_dir": str(outcome.run_dir) if outcome.run_dir else None,
        "steps": outcome.steps,
        "seconds": round(outcome.seconds, 3),
    }
