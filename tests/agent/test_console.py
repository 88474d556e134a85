"""What the person sees: progress lines, JSON events, and the terminal questions."""

from __future__ import annotations

import io
import json

from rich.console import Console

from qwen_gui_agent.agent.runtime.console import JsonEvents, RichEvents, UserChannel
from tests.agent.doubles import TerminalInput

STEP = {"index": 5, "goal_step": 2, "max_steps": 30, "actions": ["click(start_box='(1,2)')"], "thought": "the [red] button",
        "commands": ["click x=1 y=2 button=left"], "dry_run": False,
        "timings_ms": {"capture": 4.2, "model": 812.0, "total": 900.4}}


def rich_output(verbose: int, *events: tuple[str, dict]) -> str:
    buffer = io.StringIO()
    sink = RichEvents(Console(file=buffer, width=200, color_system=None), verbose=verbose)
    for name, data in events:
        sink.emit(name, data)
    return buffer.getvalue()


def test_progress_line_shows_step_action_and_phase_times():
    text = rich_output(0, ("step", STEP))
    # Run step 5 is the goal's second of its 30 (three literal steps came first).
    assert "step 5 (goal 2/30) click(start_box='(1,2)')" in text
    assert "capture 4 ms · model 812 ms · total 900 ms" in text
    assert "the [red] button" not in text and "click x=1" not in text


def test_literal_step_shows_no_goal_budget():
    text = rich_output(0, ("step", {**STEP, "goal_step": None, "max_steps": None}))
    assert "step 5 click(start_box='(1,2)')" in text


def test_verbose_adds_thought_and_commands_without_reading_markup():
    text = rich_output(1, ("step", STEP))
    assert "the [red] button" in text  # model text is escaped, not taken as markup
    assert "$ click x=1 y=2 button=left" in text


def test_run_finished_names_the_run_directory():
    text = rich_output(0, ("run_finished", {"status": "stuck", "message": "same click", "steps": 3,
                                            "run_dir": "runs/20261125-010000-x"}))
    assert "stuck: same click (3 steps)" in text and "run saved in runs/20261125-010000-x" in text


def test_unknown_events_are_ignored_by_the_console():
    assert rich_output(0, ("something_new", {"a": 1})) == ""


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
