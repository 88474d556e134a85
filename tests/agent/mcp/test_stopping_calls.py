"""How a stopped call ends, below the protocol: the step in progress is recorded, and the run says interrupted.

The stop arrives as the handler is cancelled (the client cancelled or went
away) or as the server stops; the worker sees it at the run's next event.
Runs here are real runs (real sessions, recorder and step runner) on an
in-memory screen with scripted answers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.mcp.calls import CallControl, CallEvents, CallInterrupted
from qwen_gui_agent.agent.mcp.recording import DeviceRun
from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.runtime.runner import RunParts, SessionParts, execute_run
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.agent.runtime.steps import do, tap
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.actions import Type
from qwen_gui_agent.tools.dialects import get_dialect
from tests.support.doubles import MemoryDevice

CLICKS = [
    "Thought: a\nAction: click(start_box='(100,100)')",
    "Thought: b\nAction: click(start_box='(300,300)')",
    "Thought: done\nAction: finished(content='done')",
]


def parts(tmp_path: Path, device: MemoryDevice, answers: list[str]) -> SessionParts:
    return SessionParts(
        device=device,
        backend=ScriptedBackend(answers),
        dialect=get_dialect("uitars"),
        settings=LoopSettings(settle_s=0.0),
        events=CallEvents(),
        out_dir=tmp_path / "runs",
    )


def test_a_stop_ends_a_task_at_its_next_step_as_interrupted(tmp_path):
    device = MemoryDevice()
    control = CallControl()

    def stop_after_the_first_click(event: str, data: dict) -> None:
        if event == "step":
            control.request_stop("the MCP client (it cancelled the call or went away)")

    control.progress = stop_after_the_first_click
    task = Task.from_goal("click twice")
    base = parts(tmp_path, device, CLICKS)
    result = execute_run(RunParts(**{**vars(base), "events": CallEvents(control)}, task=task, write_report=False))
    assert (result.status, result.steps) == ("interrupted", 1)
    assert result.message == "stopped by the MCP client (it cancelled the call or went away)"
    assert len(device.executed) == 1  # the second click never ran
    assert load_run(result.run_dir).info.status == "interrupted"


def test_a_stop_before_the_run_opens_still_finishes_it(tmp_path):
    """Stopping is never done while a run is being opened or closed: run.json must not be left saying running."""
    control = CallControl()
    control.request_stop()
    base = parts(tmp_path, MemoryDevice(), CLICKS)
    result = execute_run(
        RunParts(**{**vars(base), "events": CallEvents(control)}, task=Task.from_goal("click"), write_report=False)
    )
    assert (result.status, result.steps) == ("interrupted", 0)
    assert load_run(result.run_dir).info.status == "interrupted"


def test_a_device_run_records_an_interrupted_call_and_goes_on(tmp_path):
    device = MemoryDevice()
    backend_answers = ['[{"bbox_2d": [90, 90, 110, 110], "label": "Save"}]']
    run = DeviceRun.start("memory", device, parts(tmp_path, device, backend_answers), write_report=False)
    stopped = CallControl()

    def stop_as_the_model_is_asked(event: str, data: dict) -> None:
        if event == "phase" and data["phase"] == "model":
            stopped.request_stop()

    stopped.progress = stop_as_the_model_is_asked
    with pytest.raises(CallInterrupted):
        run.call(stopped, lambda session: tap(session, "the Save button"))
    assert run.interrupted_by == "the MCP client (it cancelled the call or went away)"
    run.call(CallControl(), lambda session: do(session, Type(text="hello"), None, kind="type"))
    assert run.interrupted_by is None  # a later call completed: the run is not left interrupted
    result = run.close()
    recorded = load_run(result.run_dir)
    assert recorded.info.status == "success" and recorded.info.message == "2 steps recorded from MCP calls"
    assert [(step.kind, step.note) for step in recorded.steps] == [("tap", "interrupted"), ("type", "")]
    assert recorded.steps[0].screenshot is not None and recorded.steps[0].answer == ""  # stopped before asking
    assert [type(action) for action in device.executed] == [Type]


def test_a_device_run_whose_last_call_was_stopped_ends_interrupted(tmp_path):
    device = MemoryDevice()
    run = DeviceRun.start("memory", device, parts(tmp_path, device, []), write_report=False)
    stopped = CallControl(reason="SIGTERM (the MCP server was stopped)")
    stopped.request_stop()
    with pytest.raises(CallInterrupted):
        run.call(stopped, lambda session: do(session, Type(text="hello"), None, kind="type"))
    result = run.close("SIGTERM (the MCP server was stopped)")
    assert (result.status, result.message) == ("interrupted", "stopped by SIGTERM (the MCP server was stopped)")
    assert device.executed == []
