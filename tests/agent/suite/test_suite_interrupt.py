"""Ctrl-C in a suite says what it is doing and stops the running tasks at once, even in the middle of a long wait."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.agent.suite.suite_files import by_task, only_suite_dir, read_suite, steps
from tests.support.e2e import agent_command, agent_env, xvfb_or_skip
from tests.support.processes import ctrl_c_as_in_a_terminal
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

LONG_WAIT = "10m"  # far longer than the test's hang guard: only a prompt stop lets the suite end in time


@pytest.fixture(scope="module")
def displays() -> Iterator[tuple[XvfbServer, XvfbServer]]:
    first = xvfb_or_skip(320, 240)
    second = xvfb_or_skip(320, 240)
    yield next(first), next(second)
    for fixture in (first, second):
        next(fixture, None)


def test_ctrl_c_in_a_long_wait_stops_the_suite_and_says_so(
    displays: tuple[XvfbServer, XvfbServer], tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("alpha", "beta", "gamma"):
        (tasks / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "steps": [{"wait": LONG_WAIT}]}))
    devices = ",".join(f"desktop:{display.display}" for display in displays)
    process = subprocess.Popen(
        [*agent_command(), "run", str(tasks), "--device", devices, "--settle", "0", "--out", str(tmp_path / "out")],
        env=agent_env(displays[0].env()),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    try:
        suite_dir = None
        while suite_dir is None or len(list(suite_dir.glob("*/*/steps.jsonl"))) < 2:  # both displays are waiting
            time.sleep(0.1)
            out = tmp_path / "out"
            suite_dir = (
                next((path for path in out.iterdir() if path.name.endswith("-suite")), None) if out.is_dir() else None
            )
            assert process.poll() is None, process.communicate()
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)  # a hang guard, not a speed goal (the wait is 10 min)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stdout + stderr
    assert "stopping the suite (Ctrl-C)" in stdout + stderr
    entries = by_task(read_suite(only_suite_dir(tmp_path / "out")))
    assert sorted(entry["status"] for entry in entries.values()) == ["interrupted", "interrupted", "not_run"]
    for entry in entries.values():
        if entry["run_dir"]:
            (wait,) = steps(entry["run_dir"])
            assert wait["kind"] == "wait" and wait["note"] == "interrupted"
            assert json.loads((Path(entry["run_dir"]) / "run.json").read_text())["status"] == "interrupted"


def test_parallel_beyond_the_devices_says_what_really_runs_at_once(
    displays: tuple[XvfbServer, XvfbServer], tmp_path: Path
) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("alpha", "beta"):
        (tasks / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "steps": [{"wait": "0.1s"}]}))
    done = subprocess.run(
        [
            *agent_command(),
            "run",
            str(tasks),
            "--device",
            f"desktop:{displays[0].display}",
            "--parallel",
            "2",
            "--settle",
            "0",
            "--out",
            str(tmp_path / "out"),
        ],
        env=agent_env(displays[0].env()),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 at once (--parallel 2, but only 1 device, one task each at a time)" in done.stdout
