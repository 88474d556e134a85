"""Hostile task files and arguments end in a clear error (file:line, exit 2), never a traceback or a hang.

YAML bombs, deep nesting, huge files, duplicate keys, values that load and then
crash, lone surrogates, and paths that lead out of the run (issue 16, items 1 and 6).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands import parse as parse_command
from qwen_gui_agent.agent.records.run_files import GeometryRecord, StepRecord
from qwen_gui_agent.agent.report.page import write_report
from qwen_gui_agent.tasks.loader import TaskFileError, load_task, parse_task
from qwen_gui_agent.tasks.yaml_limits import YamlLimits
from tests.support.cli import AGENT_COMMAND, single_group_app
from tests.support.run_builders import add_step, new_writer, screen_image


def refused(text: str, **limits: int) -> str:
    with pytest.raises(TaskFileError) as caught:
        parse_task(text, {}, source="bad.yaml", limits=YamlLimits(**limits))
    message = str(caught.value)
    assert message.startswith("bad.yaml:"), message
    return message


def laughs(levels: int, fan_out: int = 9) -> str:
    """The "billion laughs": each level an anchored list of ``fan_out`` aliases of the one before."""
    lines = ["l0: &l0 [lol]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * fan_out) + "]")
    return "\n".join(lines) + "\nsteps: [{ai: x}]\n"


def test_billion_laughs_is_refused_where_it_grows_past_the_bound():
    # l5 stands for 9^5 lists of two values (118,098 with the lists): refused on its line, the one crossing 100,000.
    message = refused(laughs(6))
    assert message.startswith("bad.yaml:6:") and "refused" in message and "aliases are expanded" in message


def test_a_full_billion_laughs_costs_one_pass_over_the_file():
    # 9^9 (the classic) with a bound: the count stops at the level that crosses it, the expansion never happens.
    assert "refused" in refused(laughs(9), max_nodes=1000)


def test_too_many_aliases_are_refused():
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 50) + "]\nsteps: [{ai: x}]\n"
    assert "more than 10 aliases" in refused(text, max_aliases=10)


def test_a_recursive_alias_is_refused():
    assert "inside its own anchor" in refused("a: &a [1, *a]\nsteps: [{ai: x}]\n")


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_a_located_error_not_a_recursion_error(opening, closing):
    text = "steps: " + opening * 5000 + "1" + closing * 5000 + "\n"
    message = refused(text)
    assert message.startswith("bad.yaml:1:") and "nested more than 64 levels deep" in message


def test_a_file_past_the_size_limit_is_not_read(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("steps: [{ai: '" + "x" * 4000 + "'}]\n", encoding="utf-8")
    with pytest.raises(TaskFileError, match="larger than 1,000 bytes"):
        load_task(path, {}, limits=YamlLimits(max_bytes=1000))
    assert "larger than" in refused("steps: [{ai: '" + "x" * 4000 + "'}]\n", max_bytes=1000)


def test_ordinary_anchors_still_load():
    task = parse_task("name: &g the goal\nsteps: [{ai: *g}, {ai: *g}]\n", {})
    assert [step.text for step in task.steps] == ["the goal", "the goal"]


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("steps: [{ai: x}]\nsteps: [{ai: y}]\n", "bad.yaml:2:1:", "'steps' is given twice"),
        ("max_steps: true\nsteps: [{ai: x}]\n", "bad.yaml:1:12: max_steps:", "valid integer"),
        ("steps:\n  - ai: x\n    max_steps: true\n", "bad.yaml:3:16: steps[0].max_steps:", "valid integer"),
        ("steps: [{wait: 11m}]\n", "bad.yaml:1:16: steps[0].wait:", "less than or equal to 600"),
        ("steps: [{wait: .inf}]\n", "bad.yaml:1:16: steps[0].wait:", "finite number"),
        ("timeout: .inf\nsteps: [{ai: x}]\n", "bad.yaml:1:10: timeout:", "finite number"),
        ('steps: [{ai: "go \\ud800 now"}]\n', "bad.yaml:1:14: steps[0].ai:", "lone surrogate"),
        ("model: {script: /etc/passwd}\nsteps: [{ai: x}]\n", "bad.yaml:1:17: model.script:", "relative path"),
        ("model: {script: ../../secret.txt}\nsteps: [{ai: x}]\n", "bad.yaml:1:17: model.script:", "without `..`"),
    ],
)
def test_values_that_used_to_load_and_then_crash_are_refused_at_load(text, where, words):
    message = refused(text)
    assert message.startswith(where) and words in message, message


def agent(*args: str | bytes, cwd=None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("DISPLAY", None)
    return subprocess.run([*AGENT_COMMAND, *args], capture_output=True, timeout=120, check=False, env=env, cwd=cwd)


@pytest.mark.parametrize(
    "text, line",
    [
        ("steps: " + "[" * 5000 + "]" * 5000 + "\n", 1),
        (laughs(9), 6),  # the classic billion laughs (9^9): refused where its expansion crosses the bound
    ],
    ids=["nesting bomb", "billion laughs"],
)
def test_agent_run_on_a_yaml_bomb_exits_2_with_the_place(tmp_path, text, line):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(text, encoding="utf-8")
    done = agent("run", str(bomb), "--out", str(tmp_path / "runs"), "--backend", "scripted", "--script", str(bomb))
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert f"bomb.yaml:{line}:" in " ".join(stderr.split()) and "Traceback" not in stderr
    assert not (tmp_path / "runs").exists()


def test_a_goal_with_a_byte_that_is_not_utf8_is_bad_input(tmp_path):
    done = agent(
        "run",
        b"open the \xff menu",
        "--out",
        str(tmp_path / "runs"),
        "--backend",
        "scripted",
        "--script",
        str(tmp_path / "none.txt"),
    )
    stderr = done.stderr.decode()
    assert done.returncode == 2, stderr
    assert "not valid UTF-8" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    "flag, value, words",
    [
        ("--max-pixels", "0", "must be positive"),
        ("--scale", "1e-300", "between 0.0625 and 16"),
        ("--scale", "inf", "between 0.0625 and 16"),
        ("--scale", "nan", "between 0.0625 and 16"),
    ],
)
def test_agent_parse_refuses_degenerate_numbers(flag, value, words):
    app = single_group_app(parse_command.register)
    result = CliRunner().invoke(app, ["parse", "click(start_box='(10,10)')", "--screen", "1920x1080", flag, value])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit)  # typer's exit 2, not an exception escaping


def test_a_tampered_screenshot_path_is_not_embedded(tmp_path):
    outside = tmp_path / "private.png"
    screen_image(40, 30).save(outside)
    run_dir = tmp_path / "run"
    writer = new_writer(run_dir)
    add_step(writer, 1, image=screen_image(40, 30), geometry=GeometryRecord(width=40, height=30), frame=None)
    writer.close()
    lines = (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    step = StepRecord.model_validate_json(lines[0])
    tampered = [
        step.model_copy(update={"index": number, "screenshot": name}).model_dump_json()
        for number, name in ((2, str(outside)), (3, "../private.png"), (4, "sub/../../private.png"))
    ]
    (run_dir / "steps.jsonl").write_text("\n".join([lines[0], *tampered]) + "\n", encoding="utf-8")
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert page.count("data:image/") == 1  # step 1's own screenshot, and none of the files outside the run
    assert page.count("no screenshot recorded") == 3


@pytest.mark.parametrize(
    "goal, code, words",
    [
        # A goal in words, whatever its slashes: it goes on to open the device (there is no display here).
        ("open " + "a" * 300 + "/settings and turn wifi on", 1, "cannot open the device"),
        ("b" * 300 + ".yaml", 2, "no such task file"),  # a task file's name that cannot exist
    ],
    ids=["a goal", "a task file"],
)
def test_a_part_over_255_bytes_between_slashes_is_no_file_name_error(tmp_path, goal, code, words):
    # Issue 22, item 5: looking the text up as a file raised OSError "File name too long".
    script = tmp_path / "answers.json"
    script.write_text("[\"Action: finished(content='done')\"]", encoding="utf-8")
    done = agent("run", goal, "--out", str(tmp_path / "runs"), "--backend", "scripted", "--script", str(script))
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode == code, output
    assert words in output and "Traceback" not in output and "File name too long" not in output
