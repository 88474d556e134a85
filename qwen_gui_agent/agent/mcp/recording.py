"""Where single MCP calls are recorded: one run per device, in the run format of ``agent run``.

A device's run opens at the first call that looks at or acts on it
(``OUT/DATE-TIME-mcp-SPEC``) and each call adds its step(s): a ``screenshot``
step, ``do``/``type``/``tap`` steps, ``query`` and ``assert`` steps, read by
``agent report`` and ``agent replay --check`` like any run. It is finished when
the server stops: ``success``, or ``interrupted`` when the last call on it was
stopped (the client cancelled it or went away, or the server was stopped).
A ``run_task`` call is a run of its own (task_tools.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from ...devices.base import Device
from ..records.run_files import STEPS_FILE, StepRecord
from ..runtime.console import plural
from ..runtime.runner import RunResult, SessionParts, finish_run, start_session
from ..runtime.session import Session
from .calls import CallControl, CallEvents, CallInterrupted

log = logging.getLogger(__name__)

T = TypeVar("T")


class DeviceRun:
    """A device's run of single calls; ``call`` runs one call's work on its session."""

    def __init__(self, spec: str, session: Session, events: CallEvents, *, write_report: bool) -> None:
        self.spec = spec
        self.session = session
        self.events = events
        self.write_report = write_report
        self.interrupted_by: str | None = None  # who stopped the last call, while no later call has completed

    @classmethod
    def start(cls, spec: str, device: Device, parts: SessionParts, *, write_report: bool) -> DeviceRun:
        events = CallEvents()
        # A run of single calls has no time budget: it lasts as long as the server does.
        settings = replace(parts.settings, timeout_s=None)
        session = start_session(replace(parts, device=device, events=events, settings=settings), title=f"mcp {spec}")
        return cls(spec, session, events, write_report=write_report)

    @property
    def directory(self) -> Path:
        return self.session.writer.directory

    def call(self, control: CallControl, work: Callable[[Session], T]) -> T:
        """``work(session)`` as one call: its events go to ``control``; an interrupted call is remembered."""
        self.events.control = control
        try:
            result = work(self.session)
        except CallInterrupted as stop:
            self.interrupted_by = str(stop)
            raise
        finally:
            self.events.control = None
        self.interrupted_by = None
        return result

    def steps_since(self, first: int) -> list[StepRecord]:
        """The steps recorded from index ``first`` on, as the run holds them (the record is the result)."""
        return read_steps(self.directory, first)

    def close(self, stop_reason: str | None = None) -> RunResult:
        """Finish the run: interrupted if its last call was stopped, else success."""
        steps = self.session.steps_recorded
        if self.interrupted_by is not None:
            status, message = "interrupted", f"stopped by {self.interrupted_by}"
        else:
            ended = f"; then the server was stopped by {stop_reason.split(' (')[0]}" if stop_reason else ""
            status, message = "success", f"{plural(steps, 'step')} recorded from MCP calls{ended}"
        result = RunResult(
            status=status, message=self.session.secrets.redact(message), run_dir=self.directory, steps=steps
        )
        return finish_run(self.session.writer, result, self.session.emit, write_report=self.write_report)


def read_steps(run_dir: Path, first: int) -> list[StepRecord]:
    """Steps with index >= ``first`` from ``run_dir``'s steps.jsonl (a cut-off last line is skipped)."""
    steps: list[StepRecord] = []
    with open(run_dir / STEPS_FILE, encoding="utf-8") as lines:
        for line in lines:
            try:
                record = StepRecord.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError):
                log.debug("skipping an unreadable step line in %s", run_dir)
                continue
            if record.index >= first:
                steps.append(record)
    return steps
