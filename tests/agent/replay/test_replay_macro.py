"""`agent replay RUN --device ...`: the recorded actions again, rescaled to the live screen."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.replay.check import check_run
from qwen_gui_agent.agent.replay.macro import MacroSettings, macro_actions
from qwen_gui_agent.tasks.loader import parse_task
from qwen_gui_agent.tools.canonical import format_action, parse_action
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, ScreenGeometry
from tests.support.cli import run_agent
from tests.support.still_screen import record_run

ANSWERS = [
    "Thought: centre\nAction: click(start_box='(658,364)')",  # 1920x1080 -> frame 1316x728: (960,540)
    "Thought: slide\nAction: drag(start_box='(0,0)', end_box='(1316,728)')",
    "Thought: wait\nAction: wait()",
    "Thought: type\nAction: type(content='abc')",
    "Thought: done\nAction: finished(content='ok')",
]


def test_model_frame_actions_keep_their_relative_place(tmp_path: Path) -> None:
    run = load_run(record_run(tmp_path, ANSWERS).run_dir)
    same = macro_actions(run, ScreenGeometry(width=1920, height=1080))
    assert [format_action(item.action) for item in same] == [item.recorded for item in same]
    smaller = macro_actions(run, ScreenGeometry(width=1280, height=720))
    assert [format_action(item.action) for item in smaller] == [
        "click(start_box='(640,360)')",
        "drag(start_box='(0,0)', end_box='(1279,719)')",
        "wait()",
        "type(content='abc')",
    ]
    # A 2x HiDPI monitor right of another one: input frame = logical points from the monitor's origin.
    hidpi = macro_actions(
        run,
        ScreenGeometry(width=2560, height=1440, scale=2.0, origin_x=1920, origin_y=0),
        MacroSettings(skip_waits=True),
    )
    assert [format_action(item.action) for item in hidpi] == [
        "click(start_box='(2560,360)')",
        "drag(start_box='(1920,0)', end_box='(3199,719)')",
        "type(content='abc')",
    ]


def test_literal_steps_are_rescaled_from_what_the_device_got(tmp_path: Path) -> None:
    task = parse_task(
        "steps:\n  - do: \"click(start_box='(500,500)')\"\n    frame: 1000x1000\n"
        "  - do: \"click(start_box='(192,108)')\"\n",
        {},
    )
    run = load_run(record_run(tmp_path, [], task=task).run_dir)
    assert [step.executed[0].action for step in run.steps] == [
        "click(start_box='(960,540)')",
        "click(start_box='(192,108)')",
    ]
    items = macro_actions(run, ScreenGeometry(width=960, height=540))
    assert [format_action(item.action) for item in items] == [
        "click(start_box='(480,270)')",
        "click(start_box='(96,54)')",
    ]


# ------------------------------------------------------------------------------------------ on a real X server

xvfb = pytest.importorskip("tests.support.xvfb")
tk_app = pytest.importorskip("tests.support.tk_app")


MAX_PIXELS = 1280 * 28 * 28
SMALL_FRAME = ModelFrame.for_screen(1280, 800, FrameBounds(max_pixels=MAX_PIXELS))  # what the run's model sees


def _model_point(x: int, y: int) -> str:
    # The inverse of the frame mapping, rounded: maps back to (x, y) within a pixel.
    return f"({round(x * SMALL_FRAME.width / 1280)},{round(y * SMALL_FRAME.height / 800)})"


def _agent(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_agent(args, env=env, timeout=120)


@pytest.mark.xvfb
@pytest.mark.slow
def test_macro_replays_a_run_recorded_at_another_screen_size(tmp_path: Path) -> None:
    if not xvfb.xvfb_available():
        pytest.skip("Xvfb is not installed")
    with xvfb.start_xvfb(1280, 800) as small:
        env = small.env(dict(os.environ))
        app = tk_app.TkApp(env, tmp_path / "small.json", x=320, y=200)
        try:
            alpha, beta, pad = app.centre("alpha"), app.centre("beta"), app.centre("pad")
            answers = [
                f"Thought: press alpha\nAction: click(start_box='{_model_point(*alpha)}')",
                f"Thought: press beta\nAction: click(start_box='{_model_point(*beta)}')",
                f"Thought: alpha again\nAction: click(start_box='{_model_point(*alpha)}')",
                f"Thought: the pad's menu\nAction: right_single(start_box='{_model_point(*pad)}')",
                "Thought: done\nAction: finished(content='pressed')",
            ]
            script = tmp_path / "answers.json"
            script.write_text(json.dumps(answers), encoding="utf-8")
            recorded = _agent(
                [
                    "run",
                    "press the buttons",
                    "--device",
                    "desktop",
                    "--backend",
                    "scripted",
                    "--script",
                    str(script),
                    "--dialect",
                    "uitars",
                    "--out",
                    str(tmp_path / "runs"),
                    "--max-pixels",
                    str(MAX_PIXELS),
                    "--settle",
                    "0.3",
                    "--no-report",
                ],
                env,
            )
            assert recorded.returncode == 0, recorded.stdout + recorded.stderr
            state = app.wait_for(lambda s: any(event["kind"] == "right" for event in s["pad"]))
            assert state["clicks"] == {"alpha": 2, "beta": 1}
            run_dir = next((tmp_path / "runs").iterdir())
            executed = [step.executed[0].action for step in load_run(run_dir).steps if step.executed]
            assert executed[0] == f"click(start_box='({alpha[0]},{alpha[1]})')"  # the frame math above holds
        finally:
            app.close()

    # The same app on a 1.25x larger screen, placed at the scaled position (as a maximised window would be).
    # Rescaling assumes the UI keeps its place relative to the screen; this app's widgets keep their size,
    # so the clicks land within a few pixels of their centres: well inside the buttons and the pad.
    with xvfb.start_xvfb(1600, 1000) as large:
        env = large.env(dict(os.environ))
        app = tk_app.TkApp(env, tmp_path / "large.json", x=400, y=250)
        try:
            planned = _agent(["replay", str(run_dir), "--device", "desktop", "--dry-run", "--json"], env)
            assert planned.returncode == 0, planned.stdout + planned.stderr
            lines = [json.loads(line) for line in planned.stdout.splitlines() if line.startswith("{")]
            assert [line["dry_run"] for line in lines] == [True] * 4
            assert app.state()["clicks"] == {"alpha": 0, "beta": 0}  # a dry run sends nothing

            replayed = _agent(["replay", str(run_dir), "--device", "desktop", "--delay", "0.3"], env)
            assert replayed.returncode == 0, replayed.stdout + replayed.stderr
            state = app.wait_for(lambda s: any(event["kind"] == "right" for event in s["pad"]), timeout=10)
            assert state["clicks"] == {"alpha": 2, "beta": 1}
            (right,) = [event for event in state["pad"] if event["kind"] == "right"]
            assert abs(right["x_root"] - pad[0] * 1.25) <= 1 and abs(right["y_root"] - pad[1] * 1.25) <= 1
            # Not the recorded pixels: the first click went to the recorded point scaled by 1.25.
            first = parse_action(lines[0]["action"])
            assert abs(first.point.x - alpha[0] * 1.25) <= 1 and abs(first.point.y - alpha[1] * 1.25) <= 1
        finally:
            app.close()


def test_desktop_launch_steps_are_skipped_not_misread(tmp_path: Path) -> None:
    task = parse_task('steps:\n  - launch: "true"\n  - do: "click(start_box=\'(10,10)\')"\n', {})
    run = load_run(record_run(tmp_path, [], task=task).run_dir)
    assert run.steps[0].executed[0].action == "launch true"  # a command line, not an action
    assert [item.step for item in macro_actions(run, ScreenGeometry(width=1920, height=1080))] == [2]
    checks = check_run(run).checks
    assert checks[0].passed and "command line" in checks[0].skipped and checks[1].passed and not checks[1].skipped
