"""An outside judge of a run (a benchmark's environment) ends it when its task is over, whatever the model says."""

from __future__ import annotations

from pathlib import Path

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.runtime.runner import RunParts, execute_run
from qwen_gui_agent.agent.runtime.session import LoopSettings, StopRun
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.dialects import get_dialect
from tests.support.doubles import CollectedEvents, MemoryDevice

CLICK = "Thought: click it\nAction: click(start_box='(406,294)')"
CLICK_LEFT = "Thought: and this\nAction: click(start_box='(203,147)')"


def run(tmp_path: Path, answers: list[str], judge, device: MemoryDevice | None = None):
    backend = ScriptedBackend(answers)
    parts = RunParts(
        task=Task.from_goal("press the button"),
        device=device or MemoryDevice(),
        backend=backend,
        dialect=get_dialect("uitars"),
        settings=LoopSettings(settle_s=0.0),
        events=CollectedEvents(),
        out_dir=tmp_path,
        write_report=False,
        end_check=judge,
    )
    return execute_run(parts), backend


def test_the_run_ends_after_the_action_that_finished_the_task(tmp_path: Path) -> None:
    device = MemoryDevice()

    def judge() -> StopRun | None:
        return StopRun("success", "the page says: reward 1") if len(device.executed) == 2 else None

    result, backend = run(tmp_path, [CLICK, CLICK_LEFT, CLICK, CLICK], judge, device)
    assert (result.status, result.message, result.steps) == ("success", "the page says: reward 1", 2)
    assert len(backend.requests) == 2  # not asked again once the task was over
    steps = load_run(result.run_dir).steps
    assert steps[-1].executed and steps[-1].note == "success: the page says: reward 1"  # recorded on the last step


def test_a_task_over_before_the_first_step_records_no_step(tmp_path: Path) -> None:
    result, backend = run(tmp_path, [CLICK], lambda: StopRun("failure", "timed out"))
    assert (result.status, result.message, result.steps, len(backend.requests)) == ("failure", "timed out", 0, 0)


def test_a_judge_with_nothing_to_say_leaves_the_run_to_the_model(tmp_path: Path) -> None:
    result, _ = run(tmp_path, [CLICK, "Action: finished(content='done')"], lambda: None)
    assert (result.status, result.message, result.steps) == ("success", "done", 2)
