"""One MCP call's work on a worker thread: progress out, cancellation in, and always a recorded end.

The agent's runs are blocking code (screenshots, HTTP to the model, input
events), so each call runs on a worker thread while the server's event loop
keeps answering. When the client cancels the call or goes away, the SDK
cancels the handler; the worker cannot be killed, so it is told to stop
(``CallControl.stop``) and stops at its next checkpoint: the next event the
run emits (a phase of a step, a step recorded, a task step starting). It
stops as Ctrl-C stops ``agent run``: the step in progress is recorded, and a
run of its own ends ``interrupted``. The handler waits for that, shielded from
the cancellation, so the server never exits with a run still marked running.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from ..runtime.runner import SignalInterrupt

log = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_STOPPED = "the MCP client (it cancelled the call or went away)"

Progress = Callable[[str, dict[str, Any]], None]

# Emitted while a run is being opened or closed, outside the steps that turn a stop into a recorded end:
# stopping there would leave run.json saying "running" (opening) or report a finished run as stopped (closing).
UNSTOPPABLE = frozenset({"run_started", "run_finished"})


class CallInterrupted(SignalInterrupt):
    """The call was cancelled: a KeyboardInterrupt, so every step and run on the way records it as one.

    ``str()`` is who stopped it; the run's message reads ``stopped by <that>``.
    """


@dataclass(frozen=True)
class Interrupted:
    """What a worker returns when its call was stopped before it finished."""

    reason: str


@dataclass
class CallControl:
    """Shared by a call's handler (event loop) and its worker thread."""

    progress: Progress | None = None
    reason: str = CLIENT_STOPPED
    stop: threading.Event = field(default_factory=threading.Event)
    steps: list[dict[str, Any]] = field(default_factory=list)  # the ``step`` events of this call, as recorded
    _raised: bool = False

    def request_stop(self, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        self.stop.set()

    def checkpoint(self) -> None:
        """Stop here if the call was cancelled: raised once, so the run's own ending is never cut short."""
        if self.stop.is_set() and not self._raised:
            self._raised = True
            raise CallInterrupted(self.reason)


class CallEvents:
    """The event sink of runs driven by MCP calls: a log line, progress for the client, the stop checkpoint.

    A device's run of single calls outlives each call, so the control is swapped in per call
    (calls on one device never overlap: the device's lock sees to it).
    """

    def __init__(self, control: CallControl | None = None) -> None:
        self.control = control

    def emit(self, event: str, data: dict[str, Any]) -> None:
        log.info("%s %s", event, json.dumps(data, ensure_ascii=False, default=str))
        control = self.control
        if control is None:
            return
        if event == "step":
            control.steps.append(data)
        if control.progress is not None and not control.stop.is_set():
            try:
                control.progress(event, data)
            except Exception:  # a client that left cannot be told; the run goes on being recorded
                log.debug("could not send progress for %s", event, exc_info=True)
        if event not in UNSTOPPABLE:
            control.checkpoint()


async def run_in_worker(work: Callable[[], T], control: CallControl, *, what: str) -> T | Interrupted:
    """``work()`` on a worker thread; on cancellation, stop it, wait until it has recorded its end, re-raise."""
    finished = threading.Event()

    def guarded() -> T | Interrupted:
        try:
            return work()
        except CallInterrupted as stop:  # never let a KeyboardInterrupt reach the event loop
            return Interrupted(str(stop))
        finally:
            finished.set()

    try:
        return await anyio.to_thread.run_sync(guarded, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        control.request_stop()
        log.warning("%s stopped by %s; recording how it ended", what, control.reason)
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(finished.wait)
        raise
