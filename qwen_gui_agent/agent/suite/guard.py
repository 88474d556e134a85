"""What a suite puts between a run and its device and backend.

The guards let a run end cleanly when the suite stops (Ctrl-C or SIGTERM reach
only the main thread; each worker's run ends as interrupted at its next device
or model call, recorded like a single run's Ctrl-C), and note a device that
dropped (DeviceDisconnected) so the pool retires it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from ...devices.base import Device, Execution, Screenshot
from ...devices.errors import DeviceDisconnected
from ...tools.actions import Action, Wait
from ...tools.messages import Message
from ..backends.base import Completion, ModelBackend
from ..runtime.runner import SignalInterrupt

T = TypeVar("T")


@dataclass
class StopSignal:
    """Set once by the main thread; every guarded call after it raises the interrupt that stopped the suite."""

    event: threading.Event = field(default_factory=threading.Event)
    cause: KeyboardInterrupt | None = None

    def stop(self, cause: KeyboardInterrupt) -> None:
        self.cause = cause
        self.event.set()

    def check(self) -> None:
        if self.event.is_set():
            cause = self.cause
            # A fresh exception per worker, of the same kind, so each record names what stopped the suite.
            raise SignalInterrupt(str(cause)) if isinstance(cause, SignalInterrupt) else KeyboardInterrupt()


class GuardedDevice(Device):
    """The device a run sees: stops with the suite, and remembers a disconnection."""

    def __init__(self, device: Device, stop: StopSignal) -> None:
        self.inner = device
        self.kind = device.kind
        self.name = device.name
        self._stop = stop
        self.dropped: DeviceDisconnected | None = None

    def screenshot(self) -> Screenshot:
        self._stop.check()
        return self._watch(self.inner.screenshot)

    def plan(self, action: Action) -> tuple[str, ...]:
        return self.inner.plan(action)

    def execute(self, action: Action) -> Execution:
        self._stop.check()
        if isinstance(action, Wait):  # waited here, so a stop ends it at once (only the main thread hears Ctrl-C)
            commands = self.inner.plan(action)
            self._stop.event.wait(action.seconds)
            self._stop.check()
            return Execution(action=action, commands=commands)
        return self._watch(lambda: self.inner.execute(action))

    def describe(self) -> dict[str, object]:
        return self._watch(self.inner.describe)

    def program_environment(self) -> dict[str, str] | None:
        return self.inner.program_environment()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:  # driver extras (launch, text state) pass through
        return getattr(self.inner, name)

    def _watch(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except DeviceDisconnected as error:
            self.dropped = error
            raise


class GuardedBackend(ModelBackend):
    """The shared backend as one run sees it: stops with the suite; closing it leaves the shared one open."""

    def __init__(self, backend: ModelBackend, stop: StopSignal) -> None:
        self.inner = backend
        self.name = backend.name
        self._stop = stop

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        self._stop.check()
        completion = self.inner.complete(messages, max_new_tokens=max_new_tokens, wants_action=wants_action)
        self._stop.check()
        return completion

    def close(self) -> None:
        """The suite closes the shared backend once, after the last run."""
