"""Every example task loads, and the Android ones run through the real task runner and replay clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.replay.check import check_run
from qwen_gui_agent.tasks.loader import load_task
from qwen_gui_agent.tasks.schema import DoStep
from qwen_gui_agent.tools.frames import ScreenGeometry
from tests.support.still_screen import record_run

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "tasks" / "examples").glob("*.yaml"))


def test_there_are_desktop_and_android_examples() -> None:
    kinds = {load_task(path, {}).device.kind for path in EXAMPLES}
    assert kinds == {"desktop", "android"}
    step_kinds = {step.kind for path in EXAMPLES for step in load_task(path, {}).steps}
    assert {"ai", "do", "tap", "type", "launch", "wait", "assert", "wait_for"} <= step_kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_loads(path: Path) -> None:
    task = load_task(path, {})  # runs with no environment: every variable has a default
    assert task.name and task.steps and task.device is not None
    assert task.timeout is not None and task.max_steps is not None  # a new user's run is bounded
    assert "${" not in json.dumps(task.model_dump(mode="json"), ensure_ascii=False)
    assert path.read_text(encoding="utf-8").startswith("#")  # says what it does and how to run it
    assert "agent run tasks/examples/" + path.name in path.read_text(encoding="utf-8").replace("\\\n", "")


def test_variables_change_the_task() -> None:
    path = next(path for path in EXAMPLES if path.name == "android_flight_search.yaml")
    task = load_task(path, {"FROM": "广州", "TO": "Chengdu"})
    assert task.steps[-1].text == "at least one flight from 广州 to Chengdu is listed with a price"
    swipe = next(step for step in task.steps if isinstance(step, DoStep))
    assert swipe.frame is not None and swipe.frame.relative


def yes(reason: str) -> str:
    return f"yes, {reason}"


def qwen_mobile(**arguments: object) -> str:
    return "<tool_call>\n" + json.dumps({"name": "mobile_use", "arguments": arguments}) + "\n</tool_call>"


def test_android_examples_run_and_replay(tmp_path: Path) -> None:
    screen = ScreenGeometry(width=1080, height=2400)  # frame 1092x2408 at the max_pixels below
    wifi = load_task(next(p for p in EXAMPLES if p.name == "android_wifi_toggle.yaml"), {})
    wifi_answers = [
        yes("the Settings list is shown"),
        qwen_mobile(action="click", coordinate=[546, 602]),
        qwen_mobile(action="click", coordinate=[900, 400]),
        qwen_mobile(action="terminate", status="success"),
        yes("the Wi-Fi switch is on"),
    ]
    flights = load_task(next(p for p in EXAMPLES if p.name == "android_flight_search.yaml"), {})
    flight_answers = [
        '[{"bbox_2d": [100, 150, 992, 230], "label": "address bar"}]',
        yes("the form is there"),
        qwen_mobile(action="click", coordinate=[300, 900]),
        qwen_mobile(action="type", text="Beijing"),
        qwen_mobile(action="terminate", status="success"),
        yes("flights with prices are listed"),
        yes("a Beijing to Shanghai flight costs 620 CNY"),
    ]
    for task, answers in ((wifi, wifi_answers), (flights, flight_answers)):
        result = record_run(
            tmp_path / task.name.replace(" ", "-"),
            answers,
            task=task,
            dialect="qwen",
            kind="mobile",
            geometry=screen,
            max_pixels=16384 * 28 * 28,
        )
        assert result.status == "success", result
        run = load_run(result.run_dir)
        commands = [command for step in run.steps for executed in step.executed for command in executed.commands]
        assert commands[0] in (
            "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1",
            "monkey -p com.android.chrome -c android.intent.category.LAUNCHER 1",
        )
        checks = check_run(run)
        assert checks.ok, checks.failures
    # The relative swipe of the flight example: (500,750)->(500,300) of 1000 on a 1080x2400 screen.
    assert "input swipe 540 1800 540 720 300" in commands
