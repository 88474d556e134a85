"""Real MiniWoB++ episodes for the step-figure tests: the reference's trajectory on two held-out seeds of two tasks.

Needs Xvfb, xdotool, Chromium and chromedriver (``.ci/run`` installs them); the tests that use these
fixtures skip without them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import REPO, run_agent

TASKS = ("click-test", "enter-text")
FIRST_SEED, SEEDS = 100000, 2
# A small frame: the 160x210 task area at zoom 1 becomes 112x140 (what benchmarks/flywheel.py trains on).
VIEW = ("--zoom", "1", "--max-pixels", "18816", "--seed", str(FIRST_SEED), "--episodes", str(SEEDS))
TIMEOUT_S = 600  # a hang guard for the child process, not a speed goal


@pytest.fixture(scope="session")
def browser() -> None:
    pytest.importorskip("miniwob")
    pytest.importorskip("selenium")
    for tool in ("Xvfb", "xdotool", "chromium", "chromedriver"):
        if shutil.which(tool) is None and not (tool == "chromium" and shutil.which("chromium-browser")):
            pytest.skip(f"{tool} is not installed (.ci/run installs xvfb, xdotool, chromium, chromium-driver)")


@pytest.fixture(scope="session")
def targets(browser: None, tmp_path_factory: pytest.TempPathFactory):
    """The reference's moves and their targets on the held-out seeds of TASKS, recorded once per session."""
    from qwen_gui_agent.agent.eval.episode_figures.targets import (
        TARGETS_FILE,
        ReferencePlay,
        TargetsFile,
        record_targets,
    )
    from qwen_gui_agent.agent.eval.miniwob.view import View
    from qwen_gui_agent.tools.frames import FrameBounds

    folder = tmp_path_factory.mktemp("targets")
    play = ReferencePlay(view=View(zoom=1.0), dialect="qwen", frame=FrameBounds(max_pixels=18816))
    recorded = record_targets(folder, TASKS, range(FIRST_SEED, FIRST_SEED + SEEDS), play)
    assert (folder / TARGETS_FILE).is_file() and len(recorded.episodes) == len(TASKS) * SEEDS
    return TargetsFile.load(folder)  # as a later reader sees it


@pytest.fixture
def miniwob(browser: None) -> Callable[..., None]:
    """``agent eval miniwob TASKS`` on the held-out seeds with the given flags, as a user runs it."""

    def play(*args: str | Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
        env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")  # one thread: a shared CPU runs it far faster
        done = run_agent(["eval", "miniwob", *TASKS, *VIEW, *map(str, args)], env=env, timeout=TIMEOUT_S)
        assert done.returncode == 0, done.stderr[-3000:]

    return play


def run_flywheel(*arguments: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """``benchmarks/flywheel.py`` with these arguments, outside the caller's AGENT_ settings; it must succeed."""
    command = [sys.executable, str(REPO / "benchmarks" / "flywheel.py"), *arguments]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def uitars_row(task: str, answer: str) -> dict[str, object]:
    """An exported UI-TARS row of a task's second step: its prompt with the task, a click, then ``answer``."""
    return {
        "messages": [
            {
                "role": "user",
                "content": f"You are a GUI agent.\n## User Instruction\n{task}<|im_end|>\n<|im_start|>user\n<image>",
            },
            {"role": "assistant", "content": "Thought: Click the field.\nAction: click(start_box='(46,42)')"},
            {"role": "user", "content": "<image>"},
            {"role": "assistant", "content": answer},
        ],
        "images": ["images/a.png", "images/b.png"],
    }
