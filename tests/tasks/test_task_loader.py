"""Task YAMLs: every step kind, ${VAR} substitution, and errors that say file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from qwen_gui_agent.tasks.loader import TaskFileError, load_task, parse_task
from qwen_gui_agent.tasks.schema import (
    AiStep,
    AssertStep,
    DoStep,
    LaunchStep,
    TapStep,
    Task,
    TypeStep,
    WaitForStep,
    WaitStep,
)
from qwen_gui_agent.tools.frames import ModelFrame


def write(tmp_path, text: str):
    path = tmp_path / "task.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def test_every_step_kind_loads(tmp_path):
    path = write(
        tmp_path,
        """
        name: flight search
        device: {kind: android, serial: emulator-5554, app: com.example.flights}
        model: {backend: openai, model: 7b, dialect: uitars, coords: absolute, max_pixels: 1003520}
        max_steps: 12
        timeout: 5m
        secrets: [PASSWORD]
        steps:
          - launch: com.example.flights
          - wait: 2
          - tap: the blue Search button
          - type: "Shanghai"
            submit: true
          - do: "click(start_box='(540,1200)')"
            frame: 1080x2400
          - ai: choose the earliest flight
            max_steps: 5
          - wait_for: the results page is shown
            timeout: 1m30s
            interval: 3s
          - assert: the results page shows at least one flight
    """,
    )
    task = load_task(path)
    kinds = [type(step) for step in task.steps]
    assert kinds == [LaunchStep, WaitStep, TapStep, TypeStep, DoStep, AiStep, WaitForStep, AssertStep]
    assert task.device.spec() == "android:emulator-5554" and task.device.app == "com.example.flights"
    assert task.timeout == 300 and task.max_steps == 12
    assert task.steps[4].frame == ModelFrame(width=1080, height=2400)
    assert task.steps[6].timeout == 90 and task.steps[6].interval == 3
    assert task.steps[7].text == "the results page shows at least one flight"
    assert task.steps[3].submit is True
    assert task.model.dialect == "uitars" and task.model.max_pixels == 1003520


def test_device_short_forms():
    assert parse_task("device: desktop:2\nsteps: [{ai: x}]", {}).device.monitor == 2
    assert parse_task("device: android\nsteps: [{ai: x}]", {}).device.spec() == "android"
    assert parse_task("device: android:10.0.0.5:5555\nsteps: [{ai: x}]", {}).device.serial == "10.0.0.5:5555"


def test_variables_come_from_env_section_then_environment():
    text = textwrap.dedent("""
        name: to ${CITY} on ${DAY}
        env:
          CITY: ${DEST:-Shanghai}
          WHO: ${USER_NAME}
        steps:
          - ai: book for ${WHO} to ${CITY}, costs $$100, password {{secret:PW}}
    """)
    task = parse_task(text, {"USER_NAME": "Li Lei", "DAY": "Monday", "CITY": "ignored: env section wins"})
    assert task.name == "to Shanghai on Monday"
    assert task.steps[0].ai == "book for Li Lei to Shanghai, costs $100, password {{secret:PW}}"
    assert task.env == {"CITY": "Shanghai", "WHO": "Li Lei"}
    with_dest = parse_task(text, {"USER_NAME": "x", "DAY": "d", "DEST": "Beijing"})
    assert with_dest.env["CITY"] == "Beijing"


def test_substituted_values_are_not_substituted_again():
    task = parse_task("env: {A: '$${B}'}\nsteps: [{ai: '${A}'}]", {"B": "nope"})
    assert task.steps[0].ai == "${B}"


def test_unset_variable_names_file_line_and_field(tmp_path):
    path = write(
        tmp_path,
        """
        name: demo
        steps:
          - ai: first
          - type: "${MISSING_VAR}"
    """,
    )
    with pytest.raises(TaskFileError) as caught:
        load_task(path, {})
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (4, "steps[1].type")
    assert "MISSING_VAR" in problem.message
    assert str(caught.value).startswith(f"{path}:4:")


def test_validation_errors_point_at_the_yaml_node(tmp_path):
    path = write(
        tmp_path,
        """
        name: broken
        model:
          backend: openai
          colour: blue
        max_steps: 0
        steps:
          - ai: fine
          - do: "click(start_box='(540,1200)')"
            frame: 1080x1000
          - wait_for: results
            timeout: 10 parsecs
          - tap: this
            ai: and that
          - do: "explode(now=1)"
          - {}
    """,
    )
    with pytest.raises(TaskFileError) as caught:
        load_task(path, {})
    found = {(p.line, p.field): p.message for p in caught.value.problems}
    assert found.keys() == {
        (4, "model.colour"),
        (5, "max_steps"),
        (8, "steps[1]"),
        (11, "steps[2].timeout"),
        (12, "steps[3]"),
        (14, "steps[4].do"),
        (15, "steps[5]"),
    }
    assert found[(4, "model.colour")] == "unknown field"
    assert "outside the screen" in found[(8, "steps[1]")]
    assert "parsecs" in found[(11, "steps[2].timeout")]
    assert "exactly one of the keys" in found[(12, "steps[3]")]
    assert "unknown action" in found[(14, "steps[4].do")]
    for line in str(caught.value).splitlines():
        assert line.startswith(f"{path}:")


def test_missing_steps_and_yaml_syntax_errors(tmp_path):
    with pytest.raises(TaskFileError) as caught:
        load_task(write(tmp_path, "name: nothing to do\n"), {})
    assert caught.value.problems[0].message == "missing required field `steps`"
    with pytest.raises(TaskFileError) as caught:
        load_task(write(tmp_path, "steps:\n  - ai: [unclosed\n"), {})
    assert "not valid YAML" in str(caught.value) and caught.value.problems[0].line >= 2
    with pytest.raises(TaskFileError) as caught:
        load_task(write(tmp_path, "- just\n- a list\n"), {})
    assert "mapping" in str(caught.value)
    with pytest.raises(TaskFileError) as caught:
        load_task(tmp_path / "absent.yaml", {})
    assert "cannot read" in str(caught.value)


def test_goal_text_becomes_a_one_step_task():
    task = Task.from_goal("open the settings")
    assert task.title() == "open the settings" and isinstance(task.steps[0], AiStep)


@pytest.mark.parametrize(
    "text, seconds", [(5, 5), ("90", 90), ("90s", 90), ("2m", 120), ("1m30s", 90), ("1h", 3600), ("0.5s", 0.5)]
)
def test_durations(text, seconds):
    # The run's timeout: a wait step stops at the wait action's 600 s.
    assert parse_task(f"timeout: '{text}'\nsteps: [{{ai: x}}]", {}).timeout == seconds


@pytest.mark.parametrize(
    "example",
    sorted((Path(__file__).resolve().parents[2] / "tasks" / "examples").glob("*.yaml")),
    ids=lambda path: path.name,
)
def test_every_example_task_loads(example):
    task = load_task(example, {})
    assert task.steps and task.title()


@pytest.mark.parametrize(
    "frame, words",
    [
        ("99999999999999999999x1", "at most 32,767"),  # issue 22, item 12: loaded, and its click landed in a corner
        ("40000x2000", "at most 32,767"),
        ("1x1000", "more than 200 times"),
        ("0x100", "not a frame"),
    ],
)
def test_a_frame_no_screen_can_have_is_refused_at_load(frame, words):
    text = f"steps:\n  - do: \"click(start_box='(0,0)')\"\n    frame: {frame}\n"
    with pytest.raises(TaskFileError) as caught:
        parse_task(text, {}, source="t.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (3, "steps[0].frame") and words in problem.message, problem


def test_the_largest_frames_a_screen_has_still_load():
    for frame in ("32767x16384", "7680x4320", "1080x2400", "relative"):
        parse_task(f"steps:\n  - do: \"click(start_box='(0,0)')\"\n    frame: {frame}\n", {})
