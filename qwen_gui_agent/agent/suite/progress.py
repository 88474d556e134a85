"""A suite's files kept current while it runs, so that a suite killed with SIGKILL says it did not finish.

suite.json, junit.xml and index.html are written when the suite starts (every task ``pending``),
again as each task starts (``running``, linking its task folder) and ends, and a last time when the
suite ends (state ``finished``). Each write replaces the files whole. After a ``kill -9`` they stay
as they were: state ``running``, the finished tasks with their run folders, the others unfinished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .runner import PENDING, RUNNING, SuiteRun, SuiteTask, TaskOutcome
from .summary import SuiteSummary, write_summary

log = logging.getLogger(__name__)


class SuiteRecord:
    """The suite's files, rewritten as its tasks start and end (``on_change`` of ``run_suite``, thread-safe)."""

    def __init__(
        self, suite_dir: Path, tasks: Sequence[SuiteTask], devices: Sequence[str], parallel: int, model: dict[str, Any]
    ) -> None:
        self.suite_dir = suite_dir
        self.tasks = list(tasks)
        self.devices = tuple(devices)
        self.parallel = parallel
        self.model = model
        self.started_at = time.time()
        self._outcomes = [TaskOutcome(task.path, task.title, PENDING, "not started yet") for task in self.tasks]
        self._lock = threading.Lock()
        self._write(self._summary(SuiteRun(tuple(self._outcomes), {}, False), ended_at=None))

    def on_change(self, index: int, outcome: TaskOutcome) -> None:
        """A task started or ended: the files say so (a task under way links its own folder in the suite's)."""
        if outcome.status == RUNNING and outcome.run_dir is None:
            outcome = TaskOutcome(
                outcome.path,
                outcome.title,
                RUNNING,
                "under way",
                outcome.device,
                self.suite_dir / self.tasks[index].folder,
            )
        with self._lock:
            self._outcomes[index] = outcome
            run = SuiteRun(tuple(self._outcomes), {}, False)
            try:
                self._write(self._summary(run, ended_at=None))
            except OSError as error:  # the run goes on; the last write at the end says how it failed
                log.warning("cannot update the suite's files in %s: %s", self.suite_dir, error)

    def finish(self, run: SuiteRun) -> tuple[SuiteSummary, list[Path]]:
        """The suite's end: its summary and the files written for good."""
        summary = self._summary(run, ended_at=time.time())
        with self._lock:
            return summary, self._write(summary)

    def _summary(self, run: SuiteRun, *, ended_at: float | None) -> SuiteSummary:
        return SuiteSummary(self.suite_dir, run, self.devices, self.parallel, self.started_at, ended_at, self.model)

    @staticmethod
    def _write(summary: SuiteSummary) -> list[Path]:
        return write_summary(summary)
