"""`agent run` end to end: a real Tk booking form on Xvfb, the openai backend against a loopback
HTTP server playing a scripted model in each dialect, and the app's own state as the judge."""

from __future__ import annotations

import json
import os
import pty
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.tools.frames import ModelFrame, smart_resize
from tests.support.booking_app import BookingApp
from tests.support.e2e import (
    Move,
    ScriptedModel,
    agent_env,
    booking_plan,
    centre,
    once,
    only_run_dir,
    run_agent,
    start_agent,
    until,
    xvfb_or_skip,
)
from tests.support.model_server import ModelServer, Reply
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

SCREEN = (1280, 800)
MAX_PIXELS = 1280 * 28 * 28
FRAME = ModelFrame(*reversed(smart_resize(SCREEN[1], SCREEN[0], max_pixels=MAX_PIXELS)))
PASSWORD = "Tr0ub4dor&3-secret"


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(*SCREEN)


@pytest.fixture
def app(display: XvfbServer, tmp_path: Path) -> Iterator[BookingApp]:
    booking = BookingApp(display.env(), tmp_path / "booking.json")
    try:
        yield booking
    finally:
        booking.close()


@pytest.fixture
def server() -> Iterator[ModelServer]:
    with ModelServer() as model_server:
        yield model_server


def common_args(server: ModelServer, out: Path, dialect: str) -> list[str]:
    return [
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--model",
        "scripted-model",
        "--dialect",
        dialect,
        "--max-pixels",
        str(MAX_PIXELS),
        "--out",
        str(out),
        "--settle",
        "0.3",
        "--device",
        "desktop",
        "--no-failsafe",
    ]


@pytest.mark.parametrize("dialect", ["qwen", "uitars"])
def test_booking_in_each_dialect(dialect, display, app, server, tmp_path):
    model = ScriptedModel(app, dialect, FRAME, booking_plan("Li Lei", "{{secret:BOOKING_PASSWORD}}", "Shanghai"))
    server.push(*[model] * 30)
    out = tmp_path / "runs"
    env = agent_env(display.env(), BOOKING_PASSWORD=PASSWORD)
    task = "Book a flight to Shanghai for Li Lei; the password is {{secret:BOOKING_PASSWORD}}"
    done = run_agent([task, *common_args(server, out, dialect), "--max-steps", "25"], env)
    assert done.returncode == 0, done.stderr + done.stdout

    # The app's own state: everything filled in and confirmed, the secret typed for real.
    state = app.state()
    assert state["booking"] == {"name": "Li Lei", "password": PASSWORD, "destination": "Shanghai"}

    run_dir = only_run_dir(out)
    assert str(run_dir) in " ".join(done.stdout.split())
    run = load_run(run_dir)
    assert run.info.status == "success" and run.info.dialect == dialect and not run.truncated
    assert len(run.steps) == len(server.requests) == len(model.answers)
    assert [step.answer for step in run.steps] == model.answers
    for step in run.steps:
        assert (run_dir / step.screenshot).is_file()
        assert (step.frame.width, step.frame.height) == (FRAME.width, FRAME.height)
        assert (step.geometry.width, step.geometry.height) == SCREEN
    clicks = [step.executed[0].action for step in run.steps if step.actions[0].startswith("click")]
    assert len(clicks) == 4
    # The model saw frame-sized images.
    assert {image.size for request in server.requests for image in request.images()} == {(FRAME.width, FRAME.height)}

    # The secret is nowhere: not on disk in the run, not on the console, not sent to the model.
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in done.stdout + done.stderr
    assert all(PASSWORD.encode() not in request.raw for request in server.requests)


def test_json_events_and_a_task_file(display, app, server, tmp_path):
    """A task YAML with literal, grounding and check steps, and --json events on stdout."""
    state = app.state()
    name_x, name_y = centre(state, "name")
    task_file = tmp_path / "booking.yaml"
    task_file.write_text(
        f"""
name: book a flight to ${{CITY}}
env:
  CITY: Chengdu
max_steps: 20
steps:
  - do: "click(start_box='({name_x},{name_y})')"
  - type: "Han Meimei"
  - tap: the Password field
  - type: "{{{{secret:BOOKING_PASSWORD}}}}"
  - tap: ${{CITY}} in the destination list
  - ai: read the terms to the end, then confirm the booking
  - assert: the page says the flight is booked
""",
        encoding="utf-8",
    )

    def grounding(target: str):
        def answer(request):
            x, y = centre(app.state(), target)
            fx, fy = round(x * FRAME.width / SCREEN[0]), round(y * FRAME.height / SCREEN[1])
            return json.dumps([{"bbox_2d": [fx - 5, fy - 5, fx + 5, fy + 5], "label": target}])

        return answer

    model = ScriptedModel(
        app,
        "qwen",
        FRAME,
        [
            until(lambda s: s["terms_read"], lambda s: Move("scroll", centre(s, "terms"))),
            once(lambda s: Move("click", centre(s, "confirm"))),
            once(lambda s: Move("finished", text="booked")),
        ],
    )
    server.push(grounding("password"), grounding("row:Chengdu"), *[model] * 8)
    server.push(lambda request: "Yes: the form says Booked: Han Meimei to Chengdu.")
    out = tmp_path / "runs"
    done = run_agent(
        [str(task_file), *common_args(server, out, "qwen"), "--json"],
        agent_env(display.env(), BOOKING_PASSWORD=PASSWORD),
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert app.state()["booking"] == {"name": "Han Meimei", "password": PASSWORD, "destination": "Chengdu"}

    events = [json.loads(line) for line in done.stdout.splitlines()]
    names = [event["event"] for event in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert events[-1]["status"] == "success" and events[-1]["exit_code"] == 0
    assert [e["kind"] for e in events if e["event"] == "task_step"] == [
        "do",
        "type",
        "tap",
        "type",
        "tap",
        "ai",
        "assert",
    ]
    assert any(e["event"] == "verdict" and e["passed"] for e in events)
    run = load_run(events[-1]["run_dir"])
    assert run.info.task == "book a flight to Chengdu" and run.info.task_file == str(task_file)
    assert [s.kind for s in run.steps][:5] == ["do", "type", "tap", "type", "tap"]
    assert PASSWORD not in done.stdout + done.stderr


def test_a_stuck_model_ends_as_stuck(display, app, server, tmp_path):
    """Clicking the disabled confirm button changes nothing on screen: stuck, not an endless loop."""
    model = ScriptedModel(app, "uitars", FRAME, [lambda s: Move("click", centre(s, "confirm"))])
    server.push(*[model] * 10)
    out = tmp_path / "runs"
    done = run_agent(["confirm the booking", *common_args(server, out, "uitars")], agent_env(display.env()))
    assert done.returncode == 1, done.stderr + done.stdout
    run = load_run(only_run_dir(out))
    assert run.info.status == "stuck" and len(run.steps) == 3
    assert app.state()["confirm_clicks"] == 0


def test_call_user_without_a_terminal_exits_3(display, app, server, tmp_path):
    server.push("Thought: I need the travel date\nAction: call_user(content='Which day do you fly?')")
    out = tmp_path / "runs"
    done = run_agent(["book a flight", *common_args(server, out, "uitars")], agent_env(display.env()))
    assert done.returncode == 3, done.stderr + done.stdout
    run = load_run(only_run_dir(out))
    assert run.info.status == "needs_user" and run.info.message == "Which day do you fly?"


def test_call_user_at_a_terminal_gets_the_answer(display, app, server, tmp_path):
    server.push(
        "Thought: I need the date\nAction: call_user(content='Which day do you fly?')",
        "Thought: done\nAction: finished(content='ok')",
    )
    out = tmp_path / "runs"
    controller, terminal = pty.openpty()  # stdin is a real terminal, as when a person runs the agent
    try:
        os.write(controller, b"next Friday\n")
        done = run_agent(
            ["book a flight", *common_args(server, out, "uitars")], agent_env(display.env()), stdin=terminal
        )
    finally:
        os.close(controller)
        os.close(terminal)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "Which day do you fly?" in done.stderr
    assert "The user answered: next Friday" in "\n".join(server.requests[1].texts())


def test_parse_errors_are_fed_back_then_bounded(display, app, server, tmp_path):
    model = ScriptedModel(app, "uitars", FRAME, [once(lambda s: Move("click", centre(s, "name")))])
    server.push("I would like to click the name box.", model, *["Action: teleport(to='Shanghai')"] * 5)
    out = tmp_path / "runs"
    done = run_agent(
        ["book a flight", *common_args(server, out, "uitars"), "--max-parse-errors", "2"], agent_env(display.env())
    )
    assert done.returncode == 1, done.stderr + done.stdout
    run = load_run(only_run_dir(out))
    assert run.info.status == "failure" and "3 unusable answers in a row" in run.info.message
    assert [step.error.kind if step.error else None for step in run.steps] == ["parse", None, "parse", "parse", "parse"]
    # Each fed-back error reached the model in the following request.
    for step, request in ((run.steps[0], server.requests[1]), (run.steps[2], server.requests[3])):
        assert step.error.message in "\n".join(request.texts())
    assert app.state()["name"] == ""  # the one good click focused the field, nothing typed


def test_sigkill_mid_run_leaves_a_loadable_run(display, app, server, tmp_path):
    model = ScriptedModel(app, "uitars", FRAME, booking_plan("Li Lei", "x", "Beijing"))
    server.push(model, model, Reply.slow(60))
    out = tmp_path / "runs"
    process = start_agent(["book a flight", *common_args(server, out, "uitars")], agent_env(display.env()))
    try:
        deadline = time.monotonic() + 60
        while len(server.requests) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert len(server.requests) == 3, process.communicate(timeout=5)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
    run = load_run(only_run_dir(out))
    assert run.info.status == "running"  # it never got to say otherwise
    assert [step.index for step in run.steps] == [1, 2]
    assert run.steps[1].answer == model.answers[1]
    assert all((run.directory / step.screenshot).is_file() for step in run.steps)


def test_dry_run_shows_commands_and_leaves_the_app_alone(display, app, server, tmp_path):
    plan = [
        once(lambda s: Move("click", centre(s, "name"))),
        once(lambda s: Move("type", text="Li Lei")),
        once(lambda s: Move("finished", text="typed")),
    ]
    server.push(*[ScriptedModel(app, "uitars", FRAME, plan)] * 3)
    out = tmp_path / "runs"
    done = run_agent(["type the name", *common_args(server, out, "uitars"), "--dry-run"], agent_env(display.env()))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "(dry run)" in done.stdout
    time.sleep(0.5)
    assert app.state()["name"] == ""
    run = load_run(only_run_dir(out))
    executed = [record for step in run.steps for record in step.executed]
    assert len(executed) == 2 and all(record.dry_run and record.commands for record in executed)
    for command in (command for record in executed for command in record.commands):
        assert command in done.stdout  # printed instead of sent


def test_bad_input_exits_2(display, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - ai: fine\n  - do: \"warp(start_box='(1,1)')\"\n", encoding="utf-8")
    done = run_agent([str(bad), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"], agent_env(display.env()))
    assert done.returncode == 2 and f"{bad}:3:" in " ".join(done.stderr.split())
    missing = run_agent(
        ["type {{secret:NOT_SET_ANYWHERE}}", "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"],
        agent_env(display.env()),
    )
    assert missing.returncode == 2 and "NOT_SET_ANYWHERE" in missing.stderr
