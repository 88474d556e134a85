"""A suite whose display dies mid-task, and a suite killed with SIGKILL (issue 22, item 9).

A display that died mid-task was an "internal error" with a traceback, its run folder was linked from
neither suite.json, junit.xml nor index.html, and the dead display went back to the pool for the next
task. A suite killed with ``kill -9`` left no suite.json at all, so nothing said it was incomplete.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.suite.suite_files import by_task, case_kinds, clicks, junit, read_suite, write_task
from tests.agent.suite.test_suite_desktop import _Links
from tests.support.e2e import agent_command, agent_env, xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

SLOW_CLICKS = [(20 + 15 * n, 30 + 10 * n) for n in range(30)]  # at --settle 0.3: about 9 s, unless stopped


@pytest.fixture
def first() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


@pytest.fixture
def second() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


def start_suite(tmp_path: Path, devices: str, env: dict[str, str], settle: float = 0.3) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *agent_command(),
            "run",
            str(tmp_path / "tasks"),
            "--device",
            devices,
            "--settle",
            str(settle),
            "--out",
            str(tmp_path / "out"),
        ],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_steps(tmp_path: Path, task_folder: str, steps: int, child: subprocess.Popen[str]) -> Path:
    """The run folder of ``task_folder`` once it has recorded ``steps`` steps."""
    while child.poll() is None:
        for steps_file in (tmp_path / "out").glob(f"*-suite/{task_folder}/*/steps.jsonl"):
            if len(steps_file.read_text(encoding="utf-8").splitlines()) >= steps:
                return steps_file.parent
        time.sleep(0.02)
    raise AssertionError(f"the suite ended before {task_folder} recorded {steps} steps: {child.communicate()}")


def test_a_display_that_dies_mid_task_is_a_device_error_and_leaves_the_pool(
    first: XvfbServer, second: XvfbServer, tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_task(tasks, "alpha", clicks(*SLOW_CLICKS))  # its display is stopped under it
    for name in ("beta", "gamma", "delta"):
        write_task(tasks, name, clicks((50, 60), (70, 80)))
    # A step is recorded, then the run waits --settle before its next screenshot: a display stopped as the second
    # step appears dies before that screenshot (the capture finds it dead, not xdotool).
    child = start_suite(
        tmp_path, f"desktop:{first.display},desktop:{second.display}", agent_env(first.env()), settle=1.5
    )
    try:
        run_dir = wait_for_steps(tmp_path, "001-alpha", 2, child)
        device = next(line for line in (run_dir / "run.json").read_text().splitlines() if '"name"' in line)
        dead = first if f'"desktop::{first.number}"' in device else second
        dead.close()  # the X server goes away mid-task
        stdout, stderr = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 1, stderr
    assert "Traceback" not in stderr and "internal error" not in stdout + stderr, stderr[-3000:]
    suite_dir = run_dir.parent.parent
    suite = read_suite(suite_dir)
    entries = by_task(suite)
    alpha = entries["alpha"]
    assert alpha["status"] == "error" and alpha["message"].startswith("device: the X display"), alpha
    assert "is gone" in alpha["message"], alpha
    assert alpha["run_dir"] == str(run_dir)  # linked: its steps up to the death are there
    dead_spec = f"desktop::{dead.number}"
    live_spec = f"desktop::{(second if dead is first else first).number}"
    assert list(suite["dropped_devices"]) == [dead_spec], suite["dropped_devices"]
    assert {name: entries[name]["status"] for name in ("beta", "gamma", "delta")} == dict.fromkeys(
        ("beta", "gamma", "delta"), "success"
    )
    # alpha held its display from its start to its death, and the dead display left the pool: every other task
    # ran on the live one (none was handed the dead one and failed to open it).
    assert [entries[name]["device"] for name in ("beta", "gamma", "delta")] == [live_spec] * 3
    _, cases = junit(suite_dir)
    assert case_kinds(cases)["alpha"] == "error"
    alpha_case = next(case for case in cases if case.get("classname") == "suite.alpha")
    assert str(run_dir) in alpha_case.find("system-out").text
    links = _Links()
    links.feed((suite_dir / "index.html").read_text(encoding="utf-8"))
    assert any(href.startswith("001-alpha/") for href in links.hrefs), links.hrefs


def test_a_suite_killed_with_sigkill_says_it_did_not_finish(first: XvfbServer, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_task(tasks, "alpha", clicks((50, 60)))
    write_task(tasks, "beta", clicks(*SLOW_CLICKS))
    write_task(tasks, "gamma", clicks((50, 60)))
    child = start_suite(tmp_path, f"desktop:{first.display}", agent_env(first.env()))
    try:
        wait_for_steps(tmp_path, "002-beta", 2, child)  # alpha has ended, beta is going, gamma waits
        child.send_signal(signal.SIGKILL)
    finally:
        child.communicate()
    (suite_dir,) = (tmp_path / "out").glob("*-suite")
    suite = read_suite(suite_dir)
    assert suite["state"] == "running" and suite["ended_at"] is None  # never finished: killed
    entries = by_task(suite)
    assert entries["alpha"]["status"] == "success" and entries["alpha"]["run_dir"]
    assert entries["beta"]["status"] == "running" and entries["gamma"]["status"] == "pending"
    _, cases = junit(suite_dir)
    assert case_kinds(cases) == {"alpha": "passed", "beta": "error", "gamma": "error"}
    assert "did not finish" in (suite_dir / "index.html").read_text(encoding="utf-8")
