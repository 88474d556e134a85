"""Task steps other than `ai`: literal actions, grounding taps, yes/no checks, polling, launching."""

from __future__ import annotations

import sys
import time

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.runtime.checks import parse_verdict
from qwen_gui_agent.tasks.loader import parse_task
from qwen_gui_agent.tools.actions import Click, OpenApp, Point, Type, Wait
from qwen_gui_agent.tools.errors import ActionParseError
from tests.support.doubles import MemoryDevice


def task(text: str):
    return parse_task(text, {})


def test_literal_steps_in_their_frames(run_with):
    device = MemoryDevice()
    spec = task("""
name: literal
steps:
  - do: "click(start_box='(500,500)')"
    frame: 1000x1000
  - do: "click(start_box='(10,20)')"
  - type: "hello"
    submit: true
  - wait: 0.5
""")
    result, backend, _ = run_with([], task=spec, device=device)
    assert result.status == "success" and backend.requests == []
    assert device.executed == [
        Click(point=Point(x=400, y=300)),
        Click(point=Point(x=10, y=20)),
        Type(text="hello", submit=True),
        Wait(seconds=0.5),
    ]
    steps = load_run(result.run_dir).steps
    assert [step.kind for step in steps] == ["do", "do", "type", "wait"]
    # Each literal step records the frame its points are in: the task's, else screenshot pixels.
    assert [(step.frame.width, step.frame.height) for step in steps] == [
        (1000, 1000),
        (800, 600),
        (800, 600),
        (800, 600),
    ]


def test_literal_step_off_the_screen_fails_the_task(run_with):
    result, _, _ = run_with([], task=task("steps: [{do: \"click(start_box='(900,10)')\"}]"))
    assert result.status == "failure" and "outside the screen" in result.message
    assert load_run(result.run_dir).steps[0].error.kind == "parse"


@pytest.mark.parametrize(
    "dialect, answer",
    [
        ("qwen", '[{"bbox_2d": [386, 284, 426, 304], "label": "Search"}]'),
        ("uitars", "(406,294)"),
    ],
)
def test_tap_asks_where_then_clicks(run_with, dialect, answer):
    device = MemoryDevice()
    result, backend, _ = run_with(
        [answer], task=task("steps: [{tap: the Search button}]"), device=device, dialect=dialect
    )
    assert result.status == "success"
    assert device.executed == [Click(point=Point(x=400, y=300))]
    assert "the Search button" in "".join(m.joined_text() for m in backend.requests[0])


def test_a_qwen3_tap_reads_its_box_in_thousandths_and_records_that_frame(run_with):
    # The grounding prompt names 1000 as the far edge (Qwen3-VL's grounding scale): a box centred at 995 is
    # 99.5% of the way across the 800x600 screen, not 995/999 of it (which lands at 797,598).
    device = MemoryDevice()
    result, _, _ = run_with(
        ['[{"bbox_2d": [990, 990, 1000, 1000], "label": "corner"}]'],
        task=task("steps: [{tap: the corner}]"),
        device=device,
        dialect="qwen3",
    )
    assert result.status == "success"
    assert device.executed == [Click(point=Point(x=796, y=597))]
    (step,) = load_run(result.run_dir).steps
    assert (step.frame.relative, step.frame.relative_scale) == (True, 1000)


def test_tap_without_a_usable_answer_fails(run_with):
    result, _, _ = run_with(["I cannot see it"], task=task("steps: [{tap: the Search button}]"), dialect="qwen")
    assert result.status == "failure" and result.message.startswith("tap step")


def test_assert_passes_and_fails(run_with):
    spec = task("steps: [{assert: the form is filled}, {assert: the flight is booked}]")
    result, backend, events = run_with(["Yes, every field has a value.", "No - the confirm button is grey."], task=spec)
    assert result.status == "failure"
    assert result.message == "assertion failed: the flight is booked (the confirm button is grey.)"
    verdicts = events.named("verdict")
    assert [v["passed"] for v in verdicts] == [True, False]
    assert "the flight is booked" in "".join(m.joined_text() for m in backend.requests[1])
    assert backend.requests[1][-1].images()[0].size == (812, 588)


def test_assert_with_bad_answers_is_asked_again_then_fails(run_with):
    spec = task("steps: [{assert: it works}]")
    result, backend, _ = run_with(["maybe", "Yes."], task=spec)
    assert result.status == "success" and "Note:" in "".join(m.joined_text() for m in backend.requests[1])
    result, _, _ = run_with(["maybe"] * 5, task=spec, max_parse_errors=1)
    assert result.status == "failure" and "no yes/no answer" in result.message


def test_wait_for_polls_until_true(run_with):
    spec = task("steps: [{wait_for: results are shown, timeout: 10, interval: 0.01}]")
    result, backend, _ = run_with(["no, still loading", "no", "yes, three flights"], task=spec)
    assert result.status == "success" and len(backend.requests) == 3
    assert [step.kind for step in load_run(result.run_dir).steps] == ["wait_for"] * 3


def test_wait_for_gives_up_after_its_timeout(run_with):
    spec = task("steps: [{wait_for: results are shown, timeout: 0.05, interval: 0.02}]")
    result, _, _ = run_with(["no"] * 20, task=spec)
    assert result.status == "failure" and "still not true" in result.message


def test_ai_steps_between_literal_steps(run_with):
    spec = task("""
steps:
  - ai: pick a date
    max_steps: 3
  - assert: a date is picked
  - ai: confirm
""")
    answers = [
        "Action: click(start_box='(406,294)')",
        "Action: finished(content='picked')",
        "yes",
        "Action: finished(content='done', status='failure')",
    ]
    result, _, _ = run_with(answers, task=spec)
    assert result.status == "failure" and result.message == "done"
    steps = load_run(result.run_dir).steps
    assert [s.kind for s in steps] == ["ai", "ai", "assert", "ai"]
    assert [s.goal for s in steps] == ["pick a date", "pick a date", "", "confirm"]  # replay prompts with it


def test_launch_on_a_phone_opens_the_app(run_with):
    device = MemoryDevice(kind="mobile")
    result, _, _ = run_with([], task=task("steps: [{launch: com.example.flights}]"), device=device)
    assert result.status == "success" and device.executed == [OpenApp(name="com.example.flights")]


def test_launch_on_the_desktop_starts_the_command(run_with, tmp_path):
    marker = tmp_path / "launched"
    command = f"{sys.executable} -c \"open('{marker}', 'w').write('yes')\""
    spec = parse_task("steps: [{launch: '" + command.replace("'", "''") + "'}]", {})
    result, _, _ = run_with([], task=spec, device=MemoryDevice())
    assert result.status == "success"
    assert load_run(result.run_dir).steps[0].executed[0].commands[0].startswith(sys.executable)
    deadline = time.monotonic() + 20  # the started program runs on its own; it exits right after writing
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "yes"


def test_launch_of_a_missing_program_fails(run_with):
    result, _, _ = run_with([], task=task("steps: [{launch: no-such-program-anywhere}]"), device=MemoryDevice())
    assert result.status == "failure" and "cannot launch" in result.message


@pytest.mark.parametrize(
    "answer, passed",
    [("yes", True), ("No.", False), ("**Yes** it is", True), ("Answer: no, empty", False), ("TRUE", True)],
)
def test_verdicts(answer, passed):
    assert parse_verdict(answer).passed is passed


def test_verdict_needs_yes_or_no_first():
    with pytest.raises(ActionParseError):
        parse_verdict("It seems that yes")
