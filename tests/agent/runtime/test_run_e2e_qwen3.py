"""`agent run` end to end with a Qwen3-VL answer stream: a real Tk booking form on Xvfb, the openai
backend against a loopback HTTP server playing a scripted Qwen3-VL, and the app's own state as the judge.

Only ``--model Qwen/Qwen3-VL-8B-Instruct`` says what the model is: the registry must pick the qwen3
dialect, 0..999 coordinates and the factor-32 frame, or the clicks land on the wrong widgets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.tools.frames import ModelFrame, smart_resize
from qwen_gui_agent.tools.models import family_named
from tests.support.booking_app import BookingApp
from tests.support.e2e import ScriptedModel, agent_env, booking_plan, only_run_dir, run_agent, xvfb_or_skip
from tests.support.model_server import ModelServer
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

SCREEN = (1280, 800)
QWEN3 = family_named("qwen3-vl")
# What the registry must choose on its own: smart_resize at factor 32 under Qwen3-VL's default cap.
FRAME = ModelFrame(
    *reversed(
        smart_resize(
            SCREEN[1], SCREEN[0], factor=32, min_pixels=QWEN3.frame.min_pixels, max_pixels=QWEN3.frame.max_pixels
        )
    ),
    relative=True,
    relative_scale=999,
)


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


def test_a_qwen3_vl_answer_stream_books_the_flight(display, app, server, tmp_path):
    model = ScriptedModel(app, "qwen3", FRAME, booking_plan("Han Meimei", "hunter2-qwen3", "Chengdu"))
    server.push(*[model] * 30)
    out = tmp_path / "runs"
    args = [
        "Book a flight to Chengdu for Han Meimei; the password is hunter2-qwen3",
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--model",
        "Qwen/Qwen3-VL-8B-Instruct",
        "--out",
        str(out),
        "--settle",
        "0.3",
        "--device",
        "desktop",
        "--no-failsafe",
        "--max-steps",
        "25",
    ]
    done = run_agent(args, agent_env(display.env()))
    assert done.returncode == 0, done.stderr + done.stdout

    # The app's own state: the right fields got the right text, the right row and button were clicked.
    assert app.state()["booking"] == {"name": "Han Meimei", "password": "hunter2-qwen3", "destination": "Chengdu"}

    run = load_run(only_run_dir(out))
    assert run.info.status == "success" and run.info.dialect == "qwen3"
    assert [step.answer for step in run.steps] == model.answers
    clicks = [step for step in run.steps if step.actions and step.actions[0].startswith("click")]
    assert len(clicks) == 4  # name, password, the city's row, confirm: each hit on the first try
    assert all(answer.startswith("Thought: ") and "\nAction: " in answer for answer in model.answers)
    for step in run.steps:
        assert (step.frame.width, step.frame.height, step.frame.relative, step.frame.relative_scale) == (
            FRAME.width,
            FRAME.height,
            True,
            999,
        )
    # The model was shown factor-32 images and a prompt in thousandths, as Qwen3-VL expects.
    assert {image.size for request in server.requests for image in request.images()} == {(FRAME.width, FRAME.height)}
    assert FRAME.width % 32 == 0 and FRAME.height % 32 == 0
    assert b"1000x1000" in server.requests[0].raw and b"thousandths" in server.requests[0].raw
