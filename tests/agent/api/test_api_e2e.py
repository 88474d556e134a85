"""A user's own pytest file, written against the documented Python API, drives the Tk booking form in Xvfb.

The user's project is a folder of its own (written to tmp_path): ``test_booking.py``,
its own ``tools.py`` helpers and its own ``tasks/`` package with a task file. It runs
as ``python -m pytest`` in that folder, in a child process that sees this checkout
only as an installed package would: ``qwen_gui_agent`` alone on the path (through a
link), never the repository's top-level ``tools``/``tasks`` folders. So ``import tools``
there is the user's, and the agent still works.

The model is scripted (no weights here): its answers are computed from where the
form's widgets really are, in the frame the model is sent. The app's own state is
the judge of the taps and the typing; the recorded runs are then read by the real
consumers, ``agent replay --check`` and ``agent report``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.api.installed import installed_view, user_env
from tests.support.booking_app import BookingApp
from tests.support.cli import run_agent
from tests.support.e2e import agent_env, xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

SCREEN = (1280, 800)

USER_TOOLS = '''
"""This project's own helpers (a module called tools, as many projects have)."""

import json
from pathlib import Path

from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame

MAX_PIXELS = 1280 * 28 * 28  # the frame the model is sent is at most this many pixels


class BookingForm:
    """Reads the booking form's state file: where its widgets are, what they hold."""

    def __init__(self, state_file: str) -> None:
        self.state_file = Path(state_file)

    def state(self) -> dict:
        return json.loads(self.state_file.read_text(encoding="utf-8"))

    def grounding(self, widget: str) -> str:
        """What a Qwen2.5-VL model answers when asked to find ``widget``: its box in the model's frame."""
        state = self.state()
        box = state["rows"][widget[4:]] if widget.startswith("row:") else state["widgets"][widget]
        width, height = state["screen"]
        frame = ModelFrame.for_screen(width, height, FrameBounds(max_pixels=MAX_PIXELS))
        sx, sy = frame.width / width, frame.height / height
        corners = [box["x"] * sx, box["y"] * sy, (box["x"] + box["width"]) * sx, (box["y"] + box["height"]) * sy]
        return json.dumps([{"bbox_2d": [round(value) for value in corners], "label": widget}])
'''

USER_TASKS_INIT = '''
"""This project's own task files (a package called tasks)."""

from pathlib import Path

FOLDER = Path(__file__).parent
TRAVELLER = "Li Lei"
'''

USER_TASK_FILE = """
name: choose the destination
steps:
  - query: Which destinations does the list offer?
    save_as: cities
    schema: [string]
  - tap: "{{var:cities.1}} in the destination list"
"""

USER_TEST = '''
"""The booking form, tested through qwen-gui-agent's Python API with scripted answers."""

import os
from pathlib import Path

import pytest
from pydantic import BaseModel

import tasks  # this project's task files
import tools  # this project's helpers
from qwen_gui_agent import (
    DesktopSettings,
    LoopSettings,
    ScreenAssertionError,
    open_agent,
    scripted_model,
)

RUNS = os.environ["RUNS_DIR"]
DESKTOP = DesktopSettings(failsafe=False)
SETTINGS = LoopSettings(settle_s=0.3)


class Booking(BaseModel):
    name: str
    destination: str


def test_our_modules_are_ours():
    here = Path(__file__).resolve().parent
    assert Path(tools.__file__).resolve().parent == here
    assert Path(tasks.__file__).resolve().parent == here / "tasks"
    with pytest.raises(ModuleNotFoundError):  # the agent's own folders are not top-level modules
        import devices  # noqa: F401


def test_book_a_flight():
    form = tools.BookingForm(os.environ["BOOKING_STATE"])
    answers = [
        form.grounding("name"),  # tap: the Name field
        '["Beijing", "Shanghai", "Guangzhou"]',  # the task file's query
        form.grounding("row:Shanghai"),  # the task file's tap
        '{"name": "Li Lei", "destination": "Shanghai"}',  # query
        "yes, the Name field shows Li Lei",  # assert_that
    ]
    model = scripted_model(answers, max_pixels=tools.MAX_PIXELS)
    with open_agent("desktop", model, out_dir=RUNS, name="book a flight", settings=SETTINGS,
                    desktop=DESKTOP) as agent:
        agent.tap("the Name field")
        agent.type(tasks.TRAVELLER)
        agent.run_task(tasks.FOLDER / "choose_city.yaml")
        booking = agent.query("Which name and destination does the form show?", Booking)
        agent.assert_that("the Name field shows Li Lei")
    assert booking == Booking(name="Li Lei", destination="Shanghai")
    state = form.state()  # the app's own account of what it received
    assert (state["name"], state["destination"]) == ("Li Lei", "Shanghai")


def test_a_false_statement_fails_with_the_models_reason():
    model = scripted_model(["no - the Confirm button is still greyed out"])
    with pytest.raises(ScreenAssertionError) as failed:
        with open_agent("desktop", model, out_dir=RUNS, name="confirm check", settings=SETTINGS,
                        desktop=DESKTOP) as agent:
            agent.assert_that("the booking is confirmed")
    assert failed.value.reason == "the Confirm button is still greyed out"
'''


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(*SCREEN)


@pytest.fixture
def app(display: XvfbServer, tmp_path: Path) -> Iterator[BookingApp]:
    booking = BookingApp(display.env(), tmp_path / "booking.json", timeout=120)
    try:
        yield booking
    finally:
        booking.close()


def write_user_project(folder: Path) -> None:
    (folder / "tasks").mkdir(parents=True)
    for name, text in {
        "tools.py": USER_TOOLS,
        "tasks/__init__.py": USER_TASKS_INIT,
        "tasks/choose_city.yaml": USER_TASK_FILE,
        "test_booking.py": USER_TEST,
    }.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def test_a_users_pytest_file_drives_the_booking_form(display, app, tmp_path):
    project, runs = tmp_path / "project", tmp_path / "runs"
    write_user_project(project)
    env = user_env(
        display.env(), installed_view(tmp_path / "site"), BOOKING_STATE=str(app.state_path), RUNS_DIR=str(runs)
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_booking.py"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout

    state = app.state()
    assert (state["name"], state["destination"], state["booking"]) == ("Li Lei", "Shanghai", None)

    recorded = {run.info.task: run for run in map(load_run, runs.iterdir())}
    booked, checked = recorded["book a flight"], recorded["confirm check"]
    assert (booked.info.task, booked.info.status) == ("book a flight", "success")
    assert [step.kind for step in booked.steps] == ["tap", "type", "query", "tap", "query", "assert"]
    assert booked.steps[3].thought == "row:Shanghai"  # the task file's tap, its {{var:cities.1}} filled in
    assert booked.steps[4].value == {"name": "Li Lei", "destination": "Shanghai"}
    assert (checked.info.task, checked.info.status) == ("confirm check", "failure")
    assert "the Confirm button is still greyed out" in checked.info.message

    cli_env = agent_env(display.env())
    for run in (booked, checked):
        replay = run_agent(["replay", str(run.directory), "--check"], env=cli_env, timeout=300)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert "differ" not in replay.stdout
        report = run_agent(["report", str(run.directory)], env=cli_env, timeout=300)
        assert report.returncode == 0, report.stdout + report.stderr
    assert "Which name and destination does the form show?" in (booked.directory / "report.html").read_text()
