"""What a program and the person see: JSON events and the terminal questions (progress: test_progress.py)."""

from __future__ import annotations

import io
import json

from rich.console import Console

from qwen_gui_agent.agent.runtime.console import JsonEvents, UserChannel
from tests.support.doubles import TerminalInput

STEP = {
    "index": 5,
    "goal_step": 2,
    "max_steps": 30,
    "actions": ["click(start_box='(1,2)')"],
    "thought": "the [red] button",
    "commands": ["click x=1 y=2 button=left"],
    "dry_run": False,
    "timings_ms": {"capture": 4.2, "model": 812.0, "total": 900.4},
}


def test_json_events_are_one_object_per_line():
    buffer = io.StringIO()
    sink = JsonEvents(buffer)
    sink.emit("step", STEP)
    sink.emit("run_finished", {"status": "success", "message": "完成", "steps": 1, "run_dir": "r"})
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "step" and first["actions"] == STEP["actions"] and "time" in first
    assert second["message"] == "完成"


def test_user_channel_knows_whether_it_has_a_terminal():
    assert UserChannel(stdin=TerminalInput("")).interactive
    assert not UserChannel(stdin=io.StringIO("")).interactive


def test_confirm_reads_each_decision():
    quiet = Console(file=io.StringIO())
    user = UserChannel(stdin=TerminalInput("maybe\ny\nno\nq\ne\nwait()\n"), console=quiet)
    assert user.confirm("click").decision == "yes"  # "maybe" is asked again
    assert user.confirm("click").decision == "no"
    assert user.confirm("click").decision == "quit"
    edited = user.confirm("click")
    assert (edited.decision, edited.edited) == ("edit", "wait()")
