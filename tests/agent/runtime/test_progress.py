"""The live progress a person sees: headers first, thoughts as soon as parsed, a spinner only at a terminal."""

from __future__ import annotations

import io
import time

from rich.console import Console

from qwen_gui_agent.agent.runtime.progress import RichEvents

STEP = {
    "index": 5,
    "kind": "ai",
    "goal_step": 2,
    "max_steps": 30,
    "actions": ["click(start_box='(1,2)')"],
    "thought": "the [red] button",
    "commands": ["click x=1 y=2 button=left"],
    "dry_run": False,
    "timings_ms": {"capture": 4.2, "model": 812.0, "total": 900.4},
}
STARTED = {"index": 5, "kind": "ai", "goal_step": 2, "max_steps": 30}


def progress(*events: tuple[str, dict], verbose: int = 0, terminal: bool = False, pause: float = 0.0) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None, force_terminal=terminal, highlight=False)
    sink = RichEvents(console, verbose=verbose)
    for name, data in events:
        sink.emit(name, data)
        time.sleep(pause)  # lets the live status redraw at least once (a test of what is shown, not of speed)
    sink.close()
    return buffer.getvalue()


def test_a_step_ends_with_its_action_time_and_phase_times():
    text = progress(("step_started", STARTED), ("step", STEP))
    # Run step 5 is the goal's second of its 30 (three literal steps came first).
    assert "step 5 (goal 2/30)" in text
    assert "→ click(start_box='(1,2)') 0.9 s" in text
    assert "capture 4 ms · model 812 ms · total 900 ms" in text
    assert "click x=1" not in text


def test_literal_step_shows_its_kind_and_no_goal_budget():
    text = progress(
        ("step_started", {"index": 5, "kind": "do"}),
        ("step", {**STEP, "kind": "do", "goal_step": None, "max_steps": None}),
    )
    assert "step 5 do\n" in text and "goal" not in text


def test_feedback_and_thought_come_under_their_steps_header_in_order():
    bad = {"kind": "parse", "message": "Your answer could not be used: no action"}
    text = progress(
        ("step_started", STARTED),
        ("feedback", bad),
        ("step", {**STEP, "actions": [], "error": {"kind": "parse"}}),
        ("step_started", {**STARTED, "index": 6, "goal_step": 3}),
        ("thought", {"index": 6, "thought": "the [red] button"}),
        ("step", {**STEP, "index": 6, "goal_step": 3}),
    )
    order = [
        text.index(part)
        for part in (
            "step 5 (goal 2/30)",
            "parse: Your answer",
            "→ (no action)",
            "step 6 (goal 3/30)",
            "the [red] button",
            "→ click(start_box",
        )
    ]
    assert order == sorted(order), text
    assert text.count("step 5 (goal 2/30)") == 1  # the end of a step does not print its header again


def test_a_parse_feedback_line_is_printed_once():
    # The loop sends the feedback event, then the step's record carries the same message as its error.
    message = "Your answer could not be used: no action found in the answer"
    bad_step = {**STEP, "actions": [], "error": {"kind": "parse", "message": message}}
    text = progress(("step_started", STARTED), ("feedback", {"kind": "parse", "message": message}), ("step", bad_step))
    assert text.count(message) == 1, text
    device_error = {**STEP, "error": {"kind": "device", "message": "the X display :91 is gone"}}
    assert "device: the X display :91 is gone" in progress(("step_started", STARTED), ("step", device_error))


def test_verbose_adds_the_device_commands_without_reading_markup():
    text = progress(
        ("step_started", STARTED), ("thought", {"index": 5, "thought": "the [red] button"}), ("step", STEP), verbose=1
    )
    assert "the [red] button" in text  # model text is escaped, not taken as markup
    assert "$ click x=1 y=2 button=left" in text


def test_without_a_terminal_nothing_is_animated_and_model_loading_reads_as_two_lines():
    text = progress(
        ("model_loading", {"backend": "local", "model": "Qwen/Qwen2.5-VL-7B-Instruct"}),
        ("model_ready", {"backend": "local", "model": "m", "seconds": 41.26}),
        ("step_started", STARTED),
        ("phase", {"index": 5, "phase": "model"}),
        ("step", STEP),
    )
    assert "loading the model Qwen/Qwen2.5-VL-7B-Instruct (local)\nmodel ready in 41.3 s\n" in text
    assert "asking the model" not in text and "\x1b" not in text


def test_at_a_terminal_a_live_status_shows_the_loading_and_each_phase_with_its_elapsed_time():
    text = progress(
        ("model_loading", {"backend": "local", "model": "m"}),
        ("model_ready", {"backend": "local", "model": "m", "seconds": 2.0}),
        ("step_started", STARTED),
        ("phase", {"index": 5, "phase": "model"}),
        ("phase", {"index": 5, "phase": "act"}),
        ("step", STEP),
        terminal=True,
        pause=0.3,
    )
    for label in ("loading the model m (local)", "asking the model", "acting"):
        assert label in text
    assert " s" in text.split("asking the model", 1)[1][:12]  # the elapsed seconds beside the phase


def test_run_finished_shows_a_summary_table_and_names_the_run_directory():
    text = progress(
        ("step_started", STARTED),
        ("step", STEP),
        (
            "step",
            {
                **STEP,
                "index": 6,
                "kind": "tap",
                "actions": ["click(start_box='(3,4)')"],
                "error": {"kind": "device", "message": "gone"},
                "timings_ms": {"total": 1500.0},
            },
        ),
        ("run_finished", {"status": "stuck", "message": "same click", "steps": 2, "run_dir": "runs/20261125-010000-x"}),
    )
    table = text[text.index("steps") : text.index("stuck: same click")]
    assert "click(start_box='(1,2)')" in table and "ok" in table and "0.9 s" in table
    assert "tap" in table and "device" in table and "1.5 s" in table and "2.4 s" in table  # total at the foot
    assert "stuck: same click (2 steps)" in text and "run saved in runs/20261125-010000-x" in text


def test_unknown_events_are_ignored_by_the_console():
    assert progress(("something_new", {"a": 1})) == ""
