"""A run whose folder cannot be written (read-only, a full disk, a file in the way): one clear line, exit 2, and
run.json saying how the run ended wherever the disk still allows it. Real mounts (tests/support/mounts.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.records.run_files import RunWriteError, load_run
from qwen_gui_agent.agent.runtime.console import JsonEvents
from qwen_gui_agent.agent.runtime.runner import RunParts, RunResult, execute_run
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.dialects import get_dialect
from tests.support.doubles import MemoryDevice
from tests.support.e2e import agent_env, run_agent, xvfb_or_skip
from tests.support.mounts import full_disk, read_only_folder
from tests.support.xvfb import XvfbServer

CLICKS = [f"Thought: step {n}\nAction: click(start_box='({100 + 10 * n},{100 + 5 * n})')" for n in range(40)]


def run_into(out_dir: Path, answers: list[str]) -> RunResult:
    parts = RunParts(
        task=Task.from_goal("fill the form"),
        device=MemoryDevice(),
        backend=ScriptedBackend(answers),
        dialect=get_dialect("uitars"),
        settings=LoopSettings(settle_s=0.0, max_steps=50),
        events=JsonEvents(io.StringIO()),
        out_dir=out_dir,
        write_report=True,
    )
    return execute_run(parts)


def test_a_run_into_a_read_only_folder_is_refused_before_it_starts(tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder, pytest.raises(RunWriteError) as caught:
        run_into(folder / "runs", ["Thought: done\nAction: finished(content='ok')"])
    assert str(caught.value).startswith(f"cannot write {folder / 'runs'}: Read-only file system;")


def test_a_disk_that_fills_mid_run_ends_it_as_error_with_exit_2_and_says_so_in_run_json(tmp_path: Path) -> None:
    with full_disk(tmp_path, free_kb=24) as disk:
        result = run_into(disk / "runs", CLICKS)
        assert (result.status, result.exit_code) == ("error", 2)
        assert "No space left on device" in result.message and "choose another --out" in result.message
        recorded = load_run(result.run_dir)
        assert recorded.info.status == "error" and recorded.info.message == result.message
        assert 0 < len(recorded.steps) < len(CLICKS)
        assert not list(result.run_dir.glob("*.tmp"))  # no half-written temporary left behind
        for step in recorded.steps:  # every recorded screenshot is whole; a half one was removed
            if step.screenshot:
                assert (result.run_dir / step.screenshot).stat().st_size > 0


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(320, 240)


def test_agent_run_into_an_unwritable_folder_exits_2_with_one_line(display: XvfbServer, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")  # a file where the runs folder should be: root cannot write either
    (tmp_path / "answers.json").write_text(json.dumps(["Thought: done\nAction: finished(content='ok')"]))
    done = run_agent(
        [
            "look at the screen",
            "--script",
            str(tmp_path / "answers.json"),
            "--device",
            f"desktop:{display.display}",
            "--out",
            str(tmp_path / "a-file" / "runs"),
            "--json",
        ],
        agent_env(display.env()),
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"cannot write {tmp_path / 'a-file' / 'runs'}: Not a directory" in done.stderr
    assert "Traceback" not in done.stderr
    last = json.loads(done.stdout.splitlines()[-1])
    assert (last["event"], last["kind"], last["exit_code"]) == ("error", "bad_input", 2)
