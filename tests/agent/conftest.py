from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.runtime.console import UserChannel
from qwen_gui_agent.agent.runtime.runner import RunParts, RunResult, execute_run
from qwen_gui_agent.agent.runtime.secrets import Secrets
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.dialects import get_dialect
from tests.support.doubles import CollectedEvents, MemoryDevice


@pytest.fixture
def run_with(tmp_path: Path) -> Callable[..., tuple[RunResult, ScriptedBackend, CollectedEvents]]:
    """Run a task (or a goal) on a device with scripted answers; returns the result, backend and events."""

    def run(
        answers: Sequence[str],
        *,
        task: Task | str = "book a flight",
        device: MemoryDevice | None = None,
        dialect: str = "uitars",
        user: UserChannel | None = None,
        secrets: Secrets | None = None,
        **settings: object,
    ) -> tuple[RunResult, ScriptedBackend, CollectedEvents]:
        backend = ScriptedBackend(answers)
        events = CollectedEvents()
        parts = RunParts(
            task=Task.from_goal(task) if isinstance(task, str) else task,
            device=device or MemoryDevice(),
            backend=backend,
            dialect=get_dialect(dialect),
            settings=LoopSettings(**{"settle_s": 0.0, **settings}),
            events=events,
            out_dir=tmp_path / "runs",
            user=user,
            secrets=secrets or Secrets(),
            write_report=False,
        )
        return execute_run(parts), backend, events

    return run
