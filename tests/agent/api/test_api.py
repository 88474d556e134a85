"""The Python API (qwen_gui_agent.open_agent) on an in-memory screen with scripted answers.

What each call does to the device, what it returns or raises, and what it
leaves in the run directory. The same API on a real Tk app in Xvfb, driven by
a user's own pytest file, is tests/agent/api/test_api_e2e.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic needs this one on Python 3.11

import qwen_gui_agent
from qwen_gui_agent import (
    AgentClosed,
    BackendError,
    DeviceError,
    LoopSettings,
    QueryError,
    ScreenAssertionError,
    StepFailed,
    WaitTimeoutError,
    open_agent,
    scripted_model,
)
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.records.run_files import RunInfo, load_run
from qwen_gui_agent.tools.actions import Click, Point, Type
from qwen_gui_agent.tools.frames import SERVING_MAX_PIXELS, FrameBounds, ModelFrame
from tests.support.cli import run_agent
from tests.support.doubles import CollectedEvents, MemoryDevice

QUICK = LoopSettings(settle_s=0.0)
# The frame a 800x600 screen is sent in under the default model settings: scripted taps answer in it.
FRAME = ModelFrame.for_screen(800, 600, FrameBounds(max_pixels=SERVING_MAX_PIXELS))


def box_at(x: int, y: int, label: str = "target") -> str:
    """A Qwen grounding answer whose box is centred on screen pixel (x, y) of the 800x600 screen."""
    fx, fy = round(x * FRAME.width / 800), round(y * FRAME.height / 600)
    return json.dumps([{"bbox_2d": [fx - 10, fy - 5, fx + 10, fy + 5], "label": label}])


class Flight(BaseModel):
    number: str
    price: int


def agent_on(device: MemoryDevice, answers: list[str], tmp_path: Path, **options: object):
    options.setdefault("settings", QUICK)
    return open_agent(device, scripted_model(answers), out_dir=tmp_path / "runs", **options)


def test_tap_type_query_assert_drive_the_device_and_record_one_run(tmp_path):
    device = MemoryDevice()
    answers = [box_at(400, 300, "Name"), '{"number": "CA1831", "price": "420"}', "yes: the price is 420"]
    with agent_on(device, answers, tmp_path, name="book a flight") as agent:
        agent.tap("the Name field")
        agent.type("Li Lei")
        flight = agent.query("Which flight is selected, at what price?", Flight)
        agent.assert_that("the price shown is 420")
    assert flight == Flight(number="CA1831", price=420)  # validated: "420" became an int
    assert device.executed == [Click(point=Point(x=400, y=300)), Type(text="Li Lei")]

    run = load_run(agent.run_dir)
    assert (run.info.status, run.info.task, run.info.steps) == ("success", "book a flight", 4)
    assert [step.kind for step in run.steps] == ["tap", "type", "query", "assert"]
    query = run.steps[2]
    assert query.note == "Which flight is selected, at what price?"
    assert query.value == {"number": "CA1831", "price": "420"}  # the JSON as the model gave it
    assert all((agent.run_dir / step.screenshot).is_file() for step in run.steps)
    assert (agent.run_dir / "report.html").is_file()
    assert agent.result.status == "success" and agent.result.run_dir == agent.run_dir


def test_the_query_prompt_carries_the_schema_and_the_screenshot(tmp_path):
    backend = ScriptedBackend(['{"number": "CA1831", "price": 420}'])
    with open_agent(MemoryDevice(), backend, out_dir=tmp_path / "runs", settings=QUICK) as agent:
        agent.query("Which flight?", Flight)
    ((system, user),) = backend.requests
    text = user.parts[-1]
    assert "Which flight?" in text and '"price"' in text and '"integer"' in text
    assert user.images() and user.images()[0].size == (FRAME.width, FRAME.height)


def test_a_false_assertion_raises_with_the_models_reason_and_fails_the_run(tmp_path):
    agent = agent_on(MemoryDevice(), ["no - the form still shows Beijing"], tmp_path)
    with pytest.raises(ScreenAssertionError) as raised, agent:
        agent.assert_that("the destination is Shanghai")
    failure = raised.value
    assert isinstance(failure, AssertionError)  # pytest shows it as a failed assertion
    assert failure.statement == "the destination is Shanghai"
    assert failure.reason == "the form still shows Beijing"
    assert failure.run_dir == agent.run_dir and str(agent.run_dir) in str(failure)
    info = load_run(agent.run_dir).info
    assert info.status == "failure" and "the form still shows Beijing" in info.message


def test_a_caught_assertion_does_not_fail_the_run(tmp_path):
    with agent_on(MemoryDevice(), ["no, it is disabled", "yes"], tmp_path) as agent:
        with pytest.raises(ScreenAssertionError):
            agent.assert_that("the Confirm button is enabled")
        agent.assert_that("the Confirm button is disabled")
    assert load_run(agent.run_dir).info.status == "success"


def test_a_plain_assert_in_the_block_is_recorded_as_the_failure(tmp_path):
    with pytest.raises(AssertionError), agent_on(MemoryDevice(), ['{"number": "X1", "price": 1}'], tmp_path) as agent:
        flight = agent.query("Which flight?", Flight)
        assert flight.price == 420, "the price is wrong"
    info = load_run(agent.run_dir).info
    assert info.status == "failure" and "the price is wrong" in info.message


def test_a_query_answer_that_does_not_validate_is_fed_back_then_accepted(tmp_path):
    answers = [
        "The flight is CA1831.",
        '```json\n{"number": "CA1831", "price": "cheap"}\n```',
        '{"number": "CA1831", "price": 420}',
    ]
    backend = ScriptedBackend(answers)
    with open_agent(MemoryDevice(), backend, out_dir=tmp_path / "runs", settings=QUICK) as agent:
        assert agent.query("Which flight?", Flight) == Flight(number="CA1831", price=420)
    second, third = backend.requests[1][-1].parts[-1], backend.requests[2][-1].parts[-1]
    assert "does not match the schema" in second and "Input should be a valid dictionary" in second
    assert "price: Input should be a valid integer" in third
    (step,) = load_run(agent.run_dir).steps
    assert step.error is None and step.value == {"number": "CA1831", "price": 420}


def test_a_query_that_never_validates_raises_a_typed_error(tmp_path):
    answers = ['{"number": "CA1831"}'] * 3
    agent = agent_on(MemoryDevice(), answers, tmp_path, settings=LoopSettings(settle_s=0, max_parse_errors=2))
    with pytest.raises(QueryError) as raised, agent:
        agent.query("Which flight?", Flight)
    assert raised.value.question == "Which flight?"
    assert "price: Field required" in raised.value.problem and raised.value.answer == answers[-1]
    (step,) = load_run(agent.run_dir).steps
    assert step.error.kind == "parse" and step.value == {"number": "CA1831"}
    assert load_run(agent.run_dir).info.status == "failure"


class Seat(TypedDict):
    row: int
    letter: str


@pytest.mark.parametrize(
    "schema, answer, expected",
    [
        (None, '{"a": [1, 2]}', {"a": [1, 2]}),
        (int, "Total: 42", None),  # not JSON: read as the string "Total: 42", which is no int
        (int, "42", 42),
        (list[str], '["Beijing", "Shanghai"]', ["Beijing", "Shanghai"]),
        (str, "Shanghai", "Shanghai"),  # a bare word is a string answer
        (Seat, 'Seat: {"row": 12, "letter": "C"}', {"row": 12, "letter": "C"}),
    ],
)
def test_query_takes_any_type_pydantic_validates(tmp_path, schema, answer, expected):
    settings = LoopSettings(settle_s=0, max_parse_errors=0)
    agent = open_agent(MemoryDevice(), scripted_model([answer]), out_dir=tmp_path / "runs", settings=settings)
    with agent:
        if expected is None:
            with pytest.raises(QueryError):
                agent.query("How many?", schema)
        else:
            assert (agent.query("What?") if schema is None else agent.query("What?", schema)) == expected


def test_wait_for_asks_until_yes(tmp_path):
    with agent_on(MemoryDevice(), ["no, still loading", "no", "yes, the results are shown"], tmp_path) as agent:
        agent.wait_for("the search results are shown", timeout=30, interval=0)
    assert [step.note for step in load_run(agent.run_dir).steps] == [
        "no: the search results are shown",
        "no: the search results are shown",
        "yes: the search results are shown",
    ]


def test_wait_for_gives_up_with_a_timeout_error(tmp_path):
    agent = agent_on(MemoryDevice(), ["no, a spinner is shown"], tmp_path)
    with pytest.raises(WaitTimeoutError) as raised, agent:
        agent.wait_for("the results are shown", timeout=0, interval=0.1)
    assert isinstance(raised.value, ScreenAssertionError)
    assert raised.value.reason == "a spinner is shown" and raised.value.timeout_s == 0


def test_run_returns_the_models_closing_message_or_raises(tmp_path):
    done = "Thought: it is booked\nAction: finished(content='booked CA1831')"
    gave_up = "Thought: no such flight\nAction: finished(content='no flight to Lhasa', status='failure')"
    agent = agent_on(MemoryDevice(), [done, gave_up], tmp_path, dialect="uitars")
    with pytest.raises(StepFailed) as raised, agent:
        assert agent.run("book the first flight") == "booked CA1831"
        agent.run("book a flight to Lhasa")
    assert raised.value.status == "failure" and "no flight to Lhasa" in str(raised.value)
    run = load_run(agent.run_dir)
    assert [step.goal for step in run.steps] == ["book the first flight", "book a flight to Lhasa"]
    assert run.info.dialect == "uitars"


def test_closing_closes_what_open_agent_opened_and_nothing_else(tmp_path):
    class Closing(MemoryDevice):
        closed = False

        def close(self) -> None:
            self.closed = True

    device = Closing()
    backend = ScriptedBackend(["yes"])
    with open_agent(device, backend, out_dir=tmp_path / "runs", settings=QUICK) as agent:
        agent.assert_that("anything")
    assert not device.closed  # passed in: the caller's to close
    with pytest.raises(AgentClosed):
        agent.tap("the Name field")
    assert agent.close() is agent.result  # closing twice is harmless


def test_an_unexpected_error_in_the_block_is_recorded_as_an_error(tmp_path):
    with pytest.raises(ZeroDivisionError), agent_on(MemoryDevice(), [], tmp_path) as agent:
        1 / 0  # noqa: B018
    info = load_run(agent.run_dir).info
    assert info.status == "error" and "ZeroDivisionError" in info.message


def test_a_device_or_model_that_cannot_start_raises_and_records_nothing(tmp_path):
    with pytest.raises(DeviceError, match="unknown device"):
        open_agent("toaster", scripted_model(["yes"]), out_dir=tmp_path / "runs")
    with pytest.raises(BackendError, match="cannot read the script"):
        open_agent(MemoryDevice(), scripted_model(tmp_path / "missing.txt"), out_dir=tmp_path / "runs")
    with pytest.raises(ValueError, match="unknown dialect"):
        open_agent(MemoryDevice(), scripted_model(["yes"]), dialect="klingon", out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_events_reach_the_sink_given(tmp_path):
    events = CollectedEvents()
    with agent_on(MemoryDevice(), ['{"price": 3}'], tmp_path, events=events) as agent:
        agent.query("What does it cost?")
    assert events.named("query") == [{"question": "What does it cost?", "value": {"price": 3}}]
    assert [name for name, _ in events.events][0] == "run_started"
    assert events.named("run_finished")[0]["status"] == "success"


def test_secrets_are_typed_but_never_recorded(tmp_path):
    device = MemoryDevice()
    with agent_on(device, [], tmp_path, secrets={"PIN": "4711"}) as agent:
        agent.type("{{secret:PIN}}")
    assert device.executed == [Type(text="4711")]
    assert "4711" not in (agent.run_dir / "steps.jsonl").read_text()


def test_run_task_runs_a_task_files_steps_with_its_variables(tmp_path):
    task_file = tmp_path / "fill.yaml"
    task_file.write_text("""
name: fill in the traveller
steps:
  - query: Whose booking is open?
    save_as: traveller
    schema: {name: string}
  - type: "{{var:traveller.name}}"
""")
    device = MemoryDevice()
    with agent_on(device, ['{"name": "Li Lei"}'], tmp_path) as agent:
        agent.run_task(task_file)
    assert device.executed == [Type(text="Li Lei")]
    assert [step.kind for step in load_run(agent.run_dir).steps] == ["query", "type"]


def test_the_agent_cli_reads_an_api_run(tmp_path):
    """`agent report` and `agent replay --check` accept what the API records (the device here is a test double,
    so replay compares only the model-side steps: the query and the assertion)."""
    with agent_on(MemoryDevice(), ['{"price": 420}', "yes"], tmp_path) as agent:
        agent.query("What does it cost?")
        agent.assert_that("the price is shown")
    replay = run_agent(["replay", str(agent.run_dir), "--check"])
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "ok   step 1 (query)" in replay.stdout and "ok   step 2 (assert)" in replay.stdout
    report = run_agent(["report", str(agent.run_dir)])
    assert report.returncode == 0, report.stderr
    assert "What does it cost?" in (agent.run_dir / "report.html").read_text()
    RunInfo.model_validate_json((agent.run_dir / "run.json").read_text())


def test_importing_the_package_stays_light():
    """``from qwen_gui_agent import open_agent`` loads neither torch nor a display driver nor the CLI."""
    code = (
        "import sys; from qwen_gui_agent import open_agent, scripted_model; "
        "print(sorted(m for m in ('torch', 'transformers', 'pyautogui', 'mss', 'adbutils', 'typer') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_the_package_offers_exactly_the_apis_names():
    from qwen_gui_agent.agent import api

    assert set(qwen_gui_agent.API_NAMES) == set(api.__all__)
    assert qwen_gui_agent.open_agent is api.open_agent
    with pytest.raises(AttributeError):
        qwen_gui_agent.no_such_name  # noqa: B018
