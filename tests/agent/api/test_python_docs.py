"""docs/python.md: its no-model example runs as printed, and its reference names every call and name of the API."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import qwen_gui_agent
from qwen_gui_agent.agent.api import Agent
from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.api.installed import installed_view, user_env
from tests.support.cli import run_agent
from tests.support.e2e import agent_env, xvfb_or_skip
from tests.support.xvfb import XvfbServer

PAGE = Path(__file__).resolve().parents[3] / "docs" / "python.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)


def example(first_line: str) -> str:
    (block,) = [block for block in python_blocks() if block.startswith(first_line)]
    return block


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(1024, 768)


@pytest.mark.xvfb
@pytest.mark.slow
def test_the_first_run_example_runs_as_printed(display, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "first_run.py").write_text(example("# first_run.py"), encoding="utf-8")
    env = user_env(display.env(), installed_view(tmp_path / "site"))
    done = subprocess.run(
        [sys.executable, "first_run.py"], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    printed_model, printed_result = done.stdout.splitlines()
    assert printed_model == "windows=0 title=None"
    status, run_dir = printed_result.split()
    assert status == "success" and re.fullmatch(r"runs/\d{8}-\d{6}-first-run", run_dir)

    run = load_run(project / run_dir)
    assert [step.kind for step in run.steps] == ["query", "assert"] and run.info.status == "success"
    for command in (["report", run_dir], ["replay", run_dir, "--check"]):  # the commands the page shows next
        used = run_agent(command, env=agent_env(display.env()), cwd=project, timeout=300)
        assert used.returncode == 0, used.stdout + used.stderr


def test_every_python_example_compiles():
    for block in python_blocks():
        compile(block, str(PAGE), "exec")


def test_the_reference_names_every_call_and_every_name():
    text = PAGE.read_text(encoding="utf-8")
    calls = [name for name, _ in inspect.getmembers(Agent, inspect.isfunction) if not name.startswith("_")]
    assert [name for name in calls if f"`{name}(" not in text] == []
    assert [name for name in qwen_gui_agent.API_NAMES if name not in text] == []
