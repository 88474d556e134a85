"""Programs a task starts (`launch:`) open on the task's own display, not on the agent's $DISPLAY."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.agent.suite.suite_files import by_task, only_suite_dir, read_suite
from tests.support.e2e import agent_env, run_agent, xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.fixture(scope="module")
def first() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


@pytest.fixture(scope="module")
def second() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


@pytest.fixture(scope="module")
def agents_own() -> Iterator[XvfbServer]:
    """The display the agent process itself runs on ($DISPLAY): no task's window belongs here."""
    yield from xvfb_or_skip(320, 240)


def windows_named(display: XvfbServer, title: str) -> list[str]:
    found = subprocess.run(
        ["xdotool", "search", "--name", f"^{title}$"],
        env=display.env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return found.stdout.split()


def write_launch_task(folder: Path, name: str) -> None:
    """Launch a window, wait, then a scripted model says the task is done (the script beside the task folder)."""
    scripts = folder.parent / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / f"{name}.yaml").write_text(
        yaml.safe_dump(["Thought: done\nAction: finished(content='done')"]), encoding="utf-8"
    )
    # xmessage is a plain X client; it leaves by itself after a while, and with its display at the latest.
    task = {
        "name": name,
        "model": {"backend": "scripted", "script": f"scripts/{name}.yaml", "dialect": "uitars"},
        "steps": [
            {"launch": f"xmessage -title {name}-window -timeout 60 {name}"},
            {"wait": "1s"},
            {"ai": "check the window"},
        ],
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(task), encoding="utf-8")


def test_each_task_launches_its_program_on_its_own_display(
    first: XvfbServer, second: XvfbServer, agents_own: XvfbServer, tmp_path: Path
) -> None:
    if subprocess.run(["which", "xmessage"], capture_output=True, check=False).returncode:
        pytest.skip("xmessage is not installed (Debian: apt-get install x11-utils)")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("alpha", "beta"):
        write_launch_task(tasks, name)
    devices = f"desktop:{first.display},desktop:{second.display}"

    result = run_agent(
        [str(tasks), "--device", devices, "--settle", "0", "--out", str(tmp_path / "out")],
        agent_env(agents_own.env()),
        timeout=300,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    suite_dir = only_suite_dir(tmp_path / "out")
    entries = by_task(read_suite(suite_dir))
    # Scripted tasks: no model or server of the flags' defaults is named in the console, suite.json or JUnit.
    for text in (result.stdout, (suite_dir / "suite.json").read_text(), (suite_dir / "junit.xml").read_text()):
        assert "Qwen2.5-VL" not in text and ":8000/v1" not in text
    displays = {f"desktop::{first.number}": first, f"desktop::{second.number}": second}
    assert {entry["device"] for entry in entries.values()} == set(displays)  # one task ran on each display
    for name, entry in entries.items():
        own = displays[entry["device"]]
        others = [display for display in (*displays.values(), agents_own) if display is not own]
        assert len(windows_named(own, f"{name}-window")) == 1, f"{name}'s window is not on {own.display}"
        assert all(windows_named(other, f"{name}-window") == [] for other in others)
