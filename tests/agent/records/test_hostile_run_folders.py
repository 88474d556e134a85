"""Hostile run folders (issue 22, items 1, 2 and 6): every command that reads a run ends in exit 2 and one line.

A run folder may come from anyone (a CI artifact, a bug report). Its ``steps.jsonl`` may hold a line
nested 100,000 deep or a 5,000-digit number, or be a link to /dev/zero; a link may wait where a
temporary file goes. ``report``, ``replay``, ``export``, ``label`` and ``eval steps`` read it through the
one bounded reader (``agent.files``): a clear error naming the file and line, nothing written through
a planted link, nothing written outside the output folder.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.agent.records.run_files import STEPS_FILE
from tests.support.cli import AGENT_COMMAND
from tests.support.run_builders import three_step_run

CLEAN_ENV = {"AGENT_BACKEND": "", "AGENT_MODEL": "", "AGENT_MAX_PIXELS": "", "AGENT_SCRIPT": "", "AGENT_DEVICE": ""}
HOSTILE_LINES = {
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "a 5,000-digit number": '{"index": ' + "7" * 5000 + ', "started_at": 1.0}',
    "a number past a float": '{"index": 2, "started_at": 1e400}',
}


def commands(run: Path, tmp_path: Path) -> dict[str, list[str]]:
    script = tmp_path / "answers.json"
    script.write_text(json.dumps(["Action: wait()"] * 5), encoding="utf-8")
    return {
        "report": ["report", str(run)],
        "replay": ["replay", str(run), "--check"],
        "export": ["export", str(run), "-o", str(tmp_path / "data")],
        "label": ["label", str(run), "--step", "1", "click(start_box='(10,10)')"],
        "eval steps": [
            "eval",
            "steps",
            str(run),
            "--backend",
            "scripted",
            "--script",
            str(script),
            "--out",
            str(tmp_path / "eval"),
        ],
    }


def invoke(args: list[str]) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(build_app(), args, env=CLEAN_ENV)
    return result.exit_code, " ".join(result.output.split()), result.exception


def with_line(run: Path, line: str) -> Path:
    """The run with its second step line replaced by ``line`` (a line in the middle: not one cut by a kill)."""
    lines = (run / STEPS_FILE).read_text(encoding="utf-8").splitlines()
    lines[1] = line
    (run / STEPS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run


@pytest.mark.parametrize("command", ["report", "replay", "export", "label", "eval steps"])
@pytest.mark.parametrize("hostile", list(HOSTILE_LINES))
def test_a_hostile_step_line_is_one_located_error_in_every_command(tmp_path: Path, command: str, hostile: str) -> None:
    run = with_line(three_step_run(tmp_path / "run"), HOSTILE_LINES[hostile])
    before = sorted(path.name for path in run.iterdir())
    code, output, exception = invoke(commands(run, tmp_path)[command])
    assert code == 2, output
    assert isinstance(exception, SystemExit), repr(exception)  # a clean exit, not an exception escaping
    assert f"{run / STEPS_FILE}:2:" in output and "Traceback" not in output, output
    assert sorted(path.name for path in run.iterdir()) == before  # nothing written into the run either
    assert not (tmp_path / "data").exists()


def limited_memory() -> None:
    """The child may use 2 GiB at most: a reader that follows /dev/zero dies of it instead of taking the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def agent_in_2_gib(args: list[str]) -> tuple[int, str]:
    """The real CLI in a child process held to 2 GiB of memory, its output on one line."""
    env = {**os.environ, **CLEAN_ENV, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [*AGENT_COMMAND, *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=limited_memory,
        timeout=300,
        check=False,
    )
    return done.returncode, " ".join((done.stdout + done.stderr).split())


@pytest.mark.parametrize("command", ["report", "replay", "export", "label", "eval steps"])
def test_steps_linked_to_dev_zero_are_refused_unread(tmp_path: Path, command: str) -> None:
    run = three_step_run(tmp_path / "run")
    (run / STEPS_FILE).unlink()
    (run / STEPS_FILE).symlink_to("/dev/zero")
    code, output = agent_in_2_gib(commands(run, tmp_path)[command])
    assert code == 2, output[-2000:]
    assert f"{run / STEPS_FILE} is not a regular file (a character device)" in output and "Traceback" not in output


@pytest.mark.parametrize("planted", ["labels.json.tmp", ".labels.json.tmp"])
def test_label_does_not_write_through_a_planted_temporary_link(tmp_path: Path, planted: str) -> None:
    run = three_step_run(tmp_path / "run")
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file", encoding="utf-8")
    (run / planted).symlink_to(victim)
    code, output, _ = invoke(["label", str(run), "--step", "1", "click(start_box='(10,10)')"])
    assert code == 0, output
    assert victim.read_text(encoding="utf-8") == "the user's own file"
    assert (
        json.loads((run / "labels.json").read_text(encoding="utf-8"))["corrections"]["1"]["action"]
        == "click(start_box='(10,10)')"
    )


def test_report_does_not_write_through_a_planted_temporary_link(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file", encoding="utf-8")
    (run / "report.html.tmp").symlink_to(victim)
    code, output, _ = invoke(["report", str(run)])
    assert code == 0, output
    assert victim.read_text(encoding="utf-8") == "the user's own file"
    assert (run / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_labels_linked_to_a_device_are_refused(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    (run / "labels.json").symlink_to("/dev/zero")
    code, output = agent_in_2_gib(["export", str(run), "-o", str(tmp_path / "data")])
    assert code == 2 and "labels.json is not a regular file" in output, output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command, expected", [("report", 0), ("replay", 1)])
def test_a_decompression_bomb_screenshot_is_left_out_not_a_crash(tmp_path: Path, command: str, expected: int) -> None:
    from tests.agent.files.test_images import png_claiming

    run = three_step_run(tmp_path / "run")
    (run / "step-0001.png").write_bytes(png_claiming(100_000, 100_000))
    code, output, exception = invoke(commands(run, tmp_path)[command])
    assert code == expected, output
    assert isinstance(exception, SystemExit) or exception is None, repr(exception)
    if command == "report":  # every step is reported; only the bomb's picture is left out
        assert (run / "report.html").read_text(encoding="utf-8").count("data:image/") == 2
    else:  # the check cannot render step 1's prompt without its screenshot, as when it is missing
        assert "FAIL step 1" in output and "missing or unreadable" in output and "ok step 2" in output
