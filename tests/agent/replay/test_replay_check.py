"""`agent replay RUN --check` on runs recorded by the real loop: passes as recorded, fails where tampered."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.replay.check import check_run
from qwen_gui_agent.tasks.loader import parse_task
from qwen_gui_agent.tools.frames import ScreenGeometry
from tests.support.still_screen import record_run

# 1920x1080 at max_pixels 1280*28*28 is the frame 1316x728: (658,364) is the screen centre.
UITARS_ANSWERS = [
    "Thought: open the file menu\nAction: click(start_box='(658,364)')",
    "Thought: name it\nAction: type(content='报告 final\\n')",
    "Thought: look further down\nAction: scroll(direction='down')",
    "Thought: I will use a tool\nAction: clack()",  # a parse error, fed back
    "Thought: move the slider\nAction: drag(start_box='(100,200)', end_box='(300,200)')",
    "Thought: save\nAction: hotkey(key='ctrl s')",
    "Thought: done\nAction: finished(content='saved')",
]

QWEN_ANSWERS = [
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [658, 364]}}\n</tool_call>',
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "hello"}}\n</tool_call>',
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "a"]}}\n</tool_call>',
    (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "scroll", "coordinate": [100, 100], '
        '"pixels": -300}}\n</tool_call>'
    ),
    '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
]


@pytest.fixture(scope="module")
def uitars_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = record_run(tmp_path_factory.mktemp("uitars"), UITARS_ANSWERS)
    assert result.status == "success", result
    return result.run_dir


def copy_run(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / run.name))


def edit_step(run: Path, index: int, change: Callable[[dict], None]) -> None:
    path = run / "steps.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[index - 1])
    change(record)
    lines[index - 1] = json.dumps(record, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def edit_info(run: Path, change: Callable[[dict], None]) -> None:
    path = run / "run.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    change(info)
    path.write_text(json.dumps(info), encoding="utf-8")


def replay(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), ["replay", *args])
    return result.exit_code, result.output


def junit_cases(path: Path) -> tuple[ET.Element, list[ET.Element]]:
    suite = ET.parse(path).getroot()  # raises on malformed XML
    assert suite.tag == "testsuite"
    return suite, suite.findall("testcase")


def test_recorded_run_replays_clean(uitars_run: Path, tmp_path: Path) -> None:
    code, output = replay(str(uitars_run), "--check", "--junit", str(tmp_path / "replay.xml"))
    assert code == 0, output
    assert "all steps match" in output
    suite, cases = junit_cases(tmp_path / "replay.xml")
    assert suite.get("tests") == "7" and suite.get("failures") == "0"
    assert len(cases) == 7 and all(case.find("failure") is None for case in cases)
    assert "click(start_box='(658,364)')" in cases[0].get("name")


def test_qwen_run_replays_clean(tmp_path: Path) -> None:
    result = record_run(tmp_path, QWEN_ANSWERS, dialect="qwen")
    assert result.status == "success", result
    checks = check_run(load_run(result.run_dir)).checks
    assert [check.problems for check in checks] == [()] * 5
    assert not any(check.skipped for check in checks)


def test_edited_command_fails_with_recorded_and_now(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    edit_step(run, 1, lambda step: step["executed"][0].update(commands=["click x=961 y=540 button=left"]))
    code, output = replay(str(run), "--check", "--junit", str(tmp_path / "out.xml"))
    assert code == 1
    assert "click x=961 y=540 button=left" in output and "click x=960 y=540 button=left" in output
    suite, cases = junit_cases(tmp_path / "out.xml")
    assert suite.get("failures") == "1"
    failure = cases[0].find("failure")
    assert failure is not None and "device command differs" in failure.get("message")
    assert "recorded: click(start_box='(960,540)') -> click x=961 y=540" in failure.text
    assert "now:      click(start_box='(960,540)') -> click x=960 y=540" in failure.text
    assert all(case.find("failure") is None for case in cases[1:])


def test_changed_answer_fails(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    edit_step(run, 1, lambda step: step.update(answer=step["answer"].replace("(658,364)", "(660,364)")))
    check = check_run(load_run(run)).checks[0]
    assert not check.passed
    assert "the answer parses differently" in check.problems[0]
    assert "click(start_box='(660,364)')" in check.problems[0]


def test_changed_frame_fails(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    edit_step(run, 5, lambda step: step["frame"].update(width=1288, height=812))
    result = check_run(load_run(run))
    assert [check.index for check in result.failures] == [5]
    assert "model frame differs" in result.failures[0].problems[0]
    assert "1288x812" in result.failures[0].problems[0] and "1316x728" in result.failures[0].problems[0]


def test_changed_frame_settings_fail_every_model_step(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    edit_info(run, lambda info: info["frame_settings"].update(max_pixels=12845056))
    result = check_run(load_run(run))
    assert len(result.failures) == 7  # every step's frame is now 1932x1092
    click = result.failures[0].problems
    assert any("device command differs" in problem for problem in click) or any("frame" in p for p in click)


def test_answer_that_now_parses_where_it_failed_is_a_difference(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    edit_step(run, 4, lambda step: step.update(answer="Thought: x\nAction: click(start_box='(1,1)')"))
    (failure,) = check_run(load_run(run)).failures
    assert failure.index == 4 and "now parses where it failed" in failure.problems[0]


def test_missing_screenshot_means_the_prompt_cannot_render(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    (run / "step-0002.png").unlink()
    (failure,) = check_run(load_run(run)).failures
    assert failure.index == 2 and "cannot render the prompt" in failure.problems[0]


def test_truncated_run_replays_its_complete_steps(uitars_run: Path, tmp_path: Path) -> None:
    run = copy_run(uitars_run, tmp_path)
    steps = run / "steps.jsonl"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(text[:-30], encoding="utf-8")
    code, output = replay(str(run), "--check")
    assert code == 0, output
    assert "incomplete" in output and "6 step(s) replayed" in output


def test_unreadable_runs_exit_2(uitars_run: Path, tmp_path: Path) -> None:
    assert replay(str(tmp_path / "missing"), "--check")[0] == 2
    run = copy_run(uitars_run, tmp_path)
    edit_info(run, lambda info: info.update(dialect="klingon"))
    code, output = replay(str(run), "--check")
    assert code == 2 and "klingon" in output
    broken = copy_run(uitars_run, tmp_path / "b")
    (broken / "run.json").write_text("{not json", encoding="utf-8")
    assert replay(str(broken), "--check")[0] == 2


def test_check_or_device_must_be_chosen(uitars_run: Path) -> None:
    assert replay(str(uitars_run))[0] == 2
    assert replay(str(uitars_run), "--check", "--device", "desktop")[0] == 2


TASK_YAML = """
name: fill the form
steps:
  - do: "click(start_box='(100,50)')"
  - do: "click(start_box='(500,500)')"
    frame: 1000x1000
  - type: "hello"
    submit: true
  - tap: "the red box"
  - wait: 0.01
  - assert: "the form is filled"
  - ai: "save the form"
"""


def test_task_steps_replay_clean_and_literal_tampering_fails(tmp_path: Path) -> None:
    task = parse_task(TASK_YAML, {})
    answers = [
        '[{"bbox_2d": [658, 364, 987, 437], "label": "red box"}]',  # tap: grounding reply
        "yes, every field holds text",  # assert
        "Thought: save\nAction: hotkey(key='ctrl s')",
        "Thought: done\nAction: finished(content='saved')",
    ]
    result = record_run(tmp_path / "runs", answers, task=task, dialect="qwen")
    assert result.status == "success", result
    run = result.run_dir
    checks = check_run(load_run(run)).checks
    assert [check.kind for check in checks] == ["do", "do", "type", "tap", "wait", "assert", "ai", "ai"]
    assert [check.problems for check in checks] == [()] * 8, checks
    assert not any(check.skipped for check in checks), checks
    assert not any(check.caveat for check in checks), checks  # the do step's own frame (1000x1000) is recorded
    edit_step(run, 2, lambda step: step["executed"][0].update(action="click(start_box='(961,540)')"))
    edit_step(run, 6, lambda step: step.update(note="no: the form is filled"))
    failures = check_run(load_run(run)).failures
    assert [failure.index for failure in failures] == [2, 6]
    assert "reads differently" in failures[1].problems[0]


def test_a_qwen3_tap_replays_clean_in_the_frame_its_box_was_read_in(tmp_path: Path) -> None:
    # A qwen3 box is read over 1000 (its grounding scale), the tool calls over 999: both replay as recorded.
    task = parse_task("steps: [{tap: the red box}, {ai: save the form}]", {})
    answers = [
        '[{"bbox_2d": [990, 490, 1000, 510], "label": "red box"}]',
        (
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [999, 500]}}'
            "\n</tool_call>"
        ),
        (
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}'
            "\n</tool_call>"
        ),
    ]
    result = record_run(tmp_path / "runs", answers, task=task, dialect="qwen3")
    assert result.status == "success", result
    recorded = load_run(result.run_dir)
    assert [
        (step.frame.relative_scale, step.executed[0].action if step.executed else "") for step in recorded.steps
    ] == [(1000, "click(start_box='(1910,540)')"), (999, "click(start_box='(1919,541)')"), (999, "")]
    checks = check_run(recorded).checks
    assert [check.problems for check in checks] == [()] * 3, checks


def test_literal_step_without_its_own_frame_is_checked_as_far_as_it_can_be(tmp_path: Path) -> None:
    # Records written before literal steps kept their own frame hold the screen's model frame instead.
    result = record_run(tmp_path, [], task=parse_task(TASK_YAML.split("  - type:")[0], {}))
    run = result.run_dir
    edit_step(run, 2, lambda step: step.update(frame={"width": 1316, "height": 728, "relative": False}))
    checks = check_run(load_run(run)).checks
    assert [check.problems for check in checks] == [(), ()]
    assert checks[1].caveat == "points not checked: the step's own frame is not recorded"
    edit_step(run, 2, lambda step: step["executed"][0].update(commands=["click x=1 y=1 button=left"]))
    assert [failure.index for failure in check_run(load_run(run)).failures] == [2]


def test_mobile_run_replays_with_the_android_planner(tmp_path: Path) -> None:
    answers = [
        "Thought: tap\nAction: click(start_box='(546,1204)')",
        "Thought: swipe\nAction: scroll(start_box='(546,1204)', direction='down')",
        "Thought: type\nAction: type(content='it\\'s 5 o\\'clock')",
        "Thought: back\nAction: press_back()",
        "Thought: done\nAction: finished(content='ok')",
    ]
    result = record_run(
        tmp_path, answers, kind="mobile", geometry=ScreenGeometry(width=1080, height=2400), max_pixels=12845056
    )
    assert result.status == "success", result
    recorded = load_run(result.run_dir)
    assert recorded.steps[0].executed[0].commands == ["input tap 540 1200"]
    assert check_run(recorded).ok
    edit_step(result.run_dir, 2, lambda step: step["executed"][0]["commands"].__setitem__(0, "input swipe 1 2 3 4 5"))
    assert [failure.index for failure in check_run(load_run(result.run_dir)).failures] == [2]


def test_stuck_run_and_empty_answers_replay_clean(tmp_path: Path) -> None:
    same = "Thought: again\nAction: click(start_box='(658,364)')"
    result = record_run(tmp_path, ["Thought: nothing to do yet", same, same, same])
    assert result.status == "stuck", result
    run = load_run(result.run_dir)
    assert run.steps[0].error is not None and run.steps[-1].executed == []  # refused, then stopped before acting
    checks = check_run(run).checks
    assert [check.problems for check in checks] == [()] * 4, checks
