"""Starting ``agent run``: the device and the model backend, and what is said when either cannot start.

A run that never starts leaves no run directory: bad input exits 2, a device that cannot open or
a backend that cannot start exits 1 (130 when stopped), each with its message on stderr and,
with --json, one ``error`` event. Imported by the run command's body only (``agent --help`` stays quick).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from ...devices.base import Device
from ...devices.errors import DeviceError
from ..backends import (
    BackendError,
    BackendSettings,
    BackendUnavailable,
    ModelBackend,
    create_backend,
)
from ..backends.base import ModelFilesRefused
from ..backends.no_model import NoModelBackend
from ..runtime.console import EventSink
from ..runtime.runner import EXIT_CODES, NotStarted, interruption_message
from .device_options import DeviceFlags, open_device_for_cli

EXIT_BAD_INPUT = 2
BAD_INPUT = "bad_input"  # NotStarted's status for input the user must fix (never a run's status: nothing is recorded)


@dataclass(frozen=True)
class StartErrors:
    """Says what went wrong before a run could start: on stderr, and with --json as an ``error`` event."""

    console: Console
    json_events: EventSink | None

    def bad_input(self, message: str) -> NoReturn:
        self._say("bad_input", message, EXIT_BAD_INPUT)

    def not_started(self, failure: NotStarted) -> NoReturn:
        """The device or the model could not start: nothing ran, so nothing is recorded."""
        if failure.status == BAD_INPUT:  # files the user named that cannot be used: no run, exit 2
            self.bad_input(failure.message)
        self._say("not_started", failure.message, EXIT_CODES.get(failure.status, 1), status=failure.status)

    def _say(self, kind: str, message: str, exit_code: int, **extra: str) -> NoReturn:
        self.console.print(f"[red]error:[/red] {escape(message)}")
        if self.json_events is not None:
            self.json_events.emit("error", {"kind": kind, **extra, "message": message, "exit_code": exit_code})
        raise typer.Exit(exit_code)


@contextmanager
def open_device(errors: StartErrors, spec: str, flags: DeviceFlags, environ: Mapping[str, str]) -> Iterator[Device]:
    try:
        opened = open_device_for_cli(flags, environ, spec)
    except typer.BadParameter as error:
        errors.bad_input(str(error))
    except DeviceError as error:
        raise NotStarted("error", f"cannot open the device: {error}") from None
    except KeyboardInterrupt as stop:
        raise NotStarted("interrupted", f"{interruption_message(stop)} while the device was opening") from None
    with opened:
        yield opened


def check_backend_inputs(settings: BackendSettings) -> None:
    """A script, a local model folder or an adapter folder is input: missing or unreadable is bad input, found
    before anything starts (before torch and the weights load)."""
    from ..backends.inputs import check_backend_inputs as check_inputs
    from ..backends.inputs import input_flag

    try:
        check_inputs(settings)
    except BackendUnavailable as error:
        raise typer.BadParameter(f"{input_flag(settings, error)}: {error}") from None


@contextmanager
def start_backend(settings: BackendSettings, events: EventSink, *, needed: bool) -> Iterator[ModelBackend]:
    """The model backend, or none at all for a task whose steps never ask a model.

    Loading the local backend (torch, transformers, the weights, the warm-up) takes a while: the
    console hears ``model_loading`` before and ``model_ready`` (with the seconds) after.
    """
    if not needed:
        yield NoModelBackend()
        return
    loads = settings.kind == "local"
    started = time.monotonic()
    if loads:
        events.emit("model_loading", {"backend": settings.kind, "model": settings.model})
    try:
        model_backend = create_backend(settings)
    except ModelFilesRefused as error:  # a damaged or unsafe adapter: the user's input, not a passing fault
        raise NotStarted(BAD_INPUT, f"cannot start the model backend: {error}") from None
    except BackendError as error:
        raise NotStarted("error", f"cannot start the model backend: {error}") from None
    except KeyboardInterrupt as stop:
        raise NotStarted("interrupted", f"{interruption_message(stop)} while the model backend was starting") from None
    if loads:
        events.emit(
            "model_ready",
            {"backend": settings.kind, "model": settings.model, "seconds": round(time.monotonic() - started, 2)},
        )
    with model_backend:
        yield model_backend
