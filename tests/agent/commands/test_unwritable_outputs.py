"""Every command that writes a folder or file meets a read-only one or a full disk with one line and exit 2, and
leaves nothing half-written: export, eval, replay --junit, report, suites. Real mounts (tests/support/mounts.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from tests.agent.eval.support import file_order, write_script
from tests.agent.suite.suite_files import clicks, write_task
from tests.support.make_grounding_set import make_screenspot
from tests.support.mounts import full_disk, read_only_folder
from tests.support.still_screen import record_run

CLEAN_ENV = {"AGENT_BACKEND": "", "AGENT_MODEL": "", "AGENT_MAX_PIXELS": "", "AGENT_SCRIPT": "", "AGENT_RUNS_DIR": ""}
ANSWERS = ["Thought: open it\nAction: click(start_box='(658,364)')", "Thought: done\nAction: finished(content='ok')"]


def agent(*args: str | Path):
    return CliRunner().invoke(build_app(), [str(arg) for arg in args], env=CLEAN_ENV)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    result = record_run(tmp_path / "runs", ANSWERS)
    assert result.status == "success", result
    return result.run_dir


def test_export_into_a_read_only_folder(run_dir: Path, tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder:
        done = agent("export", run_dir, "-o", folder / "data")
        assert done.exit_code == 2, done.output
        assert f"cannot write {folder / 'data'}: Read-only file system" in done.output
        assert list(folder.iterdir()) == []


def test_export_onto_a_full_disk_leaves_nothing(run_dir: Path, tmp_path: Path) -> None:
    with full_disk(tmp_path, free_kb=8) as disk:
        done = agent("export", run_dir, "-o", disk / "data")
        assert done.exit_code == 2, done.output
        assert "No space left on device" in done.output and "Traceback" not in done.output
        assert [path.name for path in disk.iterdir()] == [".filler"]  # no data/, no hidden partial folder


def grounding_eval(data: Path, out: Path, tmp_path: Path):
    items = make_screenspot(data)
    answers = [f"({item.centre[0]},{item.centre[1]})" for item in file_order(items)]
    return agent(
        "eval",
        "grounding",
        data,
        "--script",
        write_script(tmp_path / "answers.json", answers),
        "--max-pixels",
        str(16384 * 28 * 28),
        "-o",
        out,
    )


def test_eval_into_a_read_only_folder(tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder:
        done = grounding_eval(tmp_path / "data", folder / "out", tmp_path)
        assert done.exit_code == 2, done.output
        assert f"cannot write {folder / 'out'}: Read-only file system; choose another --out" in done.output


def test_eval_onto_a_disk_that_fills_keeps_what_finished(tmp_path: Path) -> None:
    with full_disk(tmp_path, free_kb=12) as disk:
        done = grounding_eval(tmp_path / "data", disk / "out", tmp_path)
        assert done.exit_code == 2, done.output
        assert "No space left on device" in done.output and "run the same command again" in done.output
        assert "Traceback" not in done.output and not list((disk / "out").glob("*.tmp"))


def test_replay_junit_that_cannot_be_written_exits_2_not_1(run_dir: Path, tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder:
        done = agent("replay", run_dir, "--check", "--junit", folder / "replay.xml")
    assert done.exit_code == 2, done.output  # 1 would read as "steps differ" in CI
    assert "ok   step 1" in done.output  # the check itself still ran and printed
    assert f"cannot write the JUnit file {folder / 'replay.xml'}: Read-only file system" in done.output


def test_replay_junit_into_a_file_path_exits_2_without_a_mount(run_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    done = agent("replay", run_dir, "--check", "--junit", tmp_path / "a-file" / "replay.xml")
    assert done.exit_code == 2, done.output
    assert "cannot write the JUnit file" in done.output


def test_report_into_a_read_only_folder_exits_2(run_dir: Path, tmp_path: Path) -> None:
    with read_only_folder(tmp_path) as folder:
        done = agent("report", run_dir, "-o", folder / "report.html")
    assert done.exit_code == 2 and "cannot write the report" in done.output


def test_a_suite_into_a_read_only_folder_is_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a task's script is named relative to where the agent starts
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("one", "two"):
        write_task(tasks, name, clicks((10, 10)))
    with read_only_folder(tmp_path) as folder:
        done = agent("run", tasks, "--device", "desktop::91,desktop::92", "--out", folder / "runs")
        assert done.exit_code == 2, done.output
        assert f"cannot write {folder / 'runs'}: Read-only file system" in done.output
        assert list(folder.iterdir()) == []
    assert json.dumps(done.output).count("Traceback") == 0
