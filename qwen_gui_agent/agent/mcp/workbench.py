"""What the server drives: its devices (opened on first use), its model (started on first use) and their runs.

Calls on one device take turns (a lock per device): two clients, or one client
calling twice at once, never interleave screenshots and input on the same
screen. Calls on different devices run side by side. Failures come back to the
client as tool errors, split by cause as everywhere in the agent: the device,
the model backend, or the step itself (the model found nothing, a point off
the screen ...), with the message and hint the run recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from ...devices import open_device
from ...devices.base import Device
from ...devices.errors import DeviceError
from ...tasks.schema import Task
from ...tools.dialects import get_dialect
from ...tools.errors import ActionParseError
from ..backends.base import BackendError
from ..runtime.runner import RunParts, RunResult, SessionParts
from ..runtime.session import LoopSettings, Session, StopRun
from .backend import LazyBackend
from .calls import CallControl, CallEvents, Interrupted, run_in_worker
from .policy import Access
from .recording import DeviceRun
from .settings import ServerSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Workbench:
    """The server's devices, model and runs, shared by every client and every call."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.policy = settings.policy
        self.secrets = settings.secrets
        self.backend = LazyBackend(settings.model.settings)
        self.dialect = get_dialect(settings.model.dialect, coordinates=settings.model.coordinates)
        self.stop_reason: str | None = None  # set when the server stops: calls still to come are not started
        self._devices: dict[str, Device] = {}
        self._runs: dict[str, DeviceRun] = {}
        self._locks: dict[str, anyio.Lock] = {}
        self._active: dict[int, CallControl] = {}
        self._guard = threading.Lock()  # the dictionaries above, from worker threads and the event loop
        self.closed = False

    # ------------------------------------------------------------------ policy (event loop)

    def device_for(self, tool: str, needed: Access, requested: str | None) -> str:
        """The served device a call runs on; Refused (naming the flag) when the policy does not allow it."""
        spec = self.policy.device_for(requested)
        self.policy.check(tool, needed, spec)
        return spec

    # ------------------------------------------------------------------ calls (event loop)

    async def on_device(
        self, spec: str, work: Callable[[Device], T], control: CallControl, *, what: str
    ) -> T | Interrupted:
        """``work(device)`` on a worker thread, in turn with the device's other calls."""
        lock = self._locks.setdefault(spec, anyio.Lock())
        async with lock:
            if self.stop_reason is not None:
                return Interrupted(self.stop_reason)
            with self._guard:
                self._active[id(control)] = control
            try:
                return await run_in_worker(
                    lambda: self._failures_as_tool_errors(lambda: work(self._device(spec))), control, what=what
                )
            finally:
                with self._guard:
                    self._active.pop(id(control), None)

    async def on_device_run(
        self, spec: str, work: Callable[[DeviceRun, Session], T], control: CallControl, *, what: str
    ) -> T | Interrupted:
        """``work(run, session)`` as a step (or steps) of the device's run of single calls."""

        def in_run(device: Device) -> T:
            run = self._run_for(spec, device)
            return run.call(control, lambda session: work(run, session))

        return await self.on_device(spec, in_run, control, what=what)

    async def off_device(self, work: Callable[[], T], *, what: str) -> T | Interrupted:
        """Blocking work that touches no device screen (listing devices, checking a recorded run)."""
        return await run_in_worker(lambda: self._failures_as_tool_errors(work), CallControl(), what=what)

    @property
    def busy(self) -> bool:
        """Whether a call is running on a device now."""
        with self._guard:
            return bool(self._active)

    def stop_calls(self, reason: str) -> None:
        """The server is stopping: calls in flight stop at their next checkpoint, new ones do not start."""
        self.stop_reason = reason
        with self._guard:
            active = list(self._active.values())
        for control in active:
            control.request_stop(reason)

    # ------------------------------------------------------------------ blocking (worker threads)

    def _device(self, spec: str) -> Device:
        with self._guard:
            device = self._devices.get(spec)
        if device is None:
            device = open_device(spec, desktop=self.settings.desktop, android=self.settings.android)
            with self._guard:
                self._devices[spec] = device
        return device

    def _run_for(self, spec: str, device: Device) -> DeviceRun:
        with self._guard:
            run = self._runs.get(spec)
        if run is None:
            run = DeviceRun.start(spec, device, self.session_parts(device), write_report=self.settings.write_report)
            with self._guard:
                self._runs[spec] = run
        return run

    def session_parts(self, device: Device) -> SessionParts:
        """What a recorded run on ``device`` is made of (DeviceRun sets its own events)."""
        return SessionParts(
            device=device,
            backend=self.backend,
            dialect=self.dialect,
            settings=self.settings.loop,
            events=CallEvents(),
            out_dir=self.settings.out_dir,
            secrets=self.secrets,
            model_info=self.settings.model.info,
        )

    def run_parts(
        self, device: Device, task: Task, task_file: str | None, settings: LoopSettings, events: CallEvents
    ) -> RunParts:
        """What a ``run_task`` run is made of: the server's model and secrets, the task's settings and file."""
        return RunParts(
            device=device,
            backend=self.backend,
            dialect=self.dialect,
            settings=settings,
            events=events,
            out_dir=self.settings.out_dir,
            secrets=self.secrets,
            model_info=self.settings.model.info,
            task=task,
            task_file=task_file,
            write_report=self.settings.write_report,
        )

    def _failures_as_tool_errors(self, work: Callable[[], T]) -> T:
        """The call's failure as the tool error the client reads, its text free of secrets."""
        try:
            return work()
        except StopRun as stop:
            message = stop.message or stop.status
        except DeviceError as error:
            message = f"device: {error}"
        except BackendError as error:
            message = f"model backend: {error}"
        except ActionParseError as error:
            message = error.describe()
        raise ToolError(self.secrets.redact(message))

    # ------------------------------------------------------------------ end

    def close(self) -> list[RunResult]:
        """Finish every device's run, close the devices and the model. Runs first: they are the record."""
        self.closed = True
        finished = []
        for run in list(self._runs.values()):
            try:
                finished.append(run.close(self.stop_reason))
            except Exception:  # one run that cannot be finished must not keep the others open
                log.exception("could not finish the run in %s", run.directory)
        for device in list(self._devices.values()):
            with suppress(Exception):
                device.close()
        self.backend.close()
        return finished
