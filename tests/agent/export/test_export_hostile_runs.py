"""`agent export` of hostile run folders (issue 22, items 1 and 8): exit 2, one line, nothing outside -o.

run.json's run_id names the run's image folder in the export: ``../`` in it wrote PNGs outside the
output folder (exit 0). A NUL or 5,000-character run_id, ``max_pixels`` as text or 1e400, a negative
screen width and a decompression-bomb screenshot were tracebacks; ``kill -9`` during an export left a
hidden partial folder behind for good.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands.export import register
from qwen_gui_agent.agent.records.run_files import RUN_FILE, STEPS_FILE
from tests.agent.files.test_images import png_claiming
from tests.support.cli import AGENT_COMMAND, single_group_app
from tests.support.run_builders import new_writer, screen_image

APP = single_group_app(register)


def edit_info(run: Path, change: Callable[[dict], None]) -> None:
    info = json.loads((run / RUN_FILE).read_text(encoding="utf-8"))
    change(info)
    (run / RUN_FILE).write_text(json.dumps(info), encoding="utf-8")


def edit_first_step(run: Path, change: Callable[[dict], None]) -> None:
    lines = (run / STEPS_FILE).read_text(encoding="utf-8").splitlines()
    step = json.loads(lines[0])
    change(step)
    lines[0] = json.dumps(step)
    (run / STEPS_FILE).write_text("\n".join(lines) + "\n", encoding="utf-8")


def replace_text(run: Path, old: str, new: str) -> None:
    text = (run / RUN_FILE).read_text(encoding="utf-8")
    assert old in text
    (run / RUN_FILE).write_text(text.replace(old, new), encoding="utf-8")


HOSTILE = {
    "run_id climbing out": (lambda run: edit_info(run, lambda i: i.update(run_id="../../escaped")), "run_id"),
    "run_id absolute": (lambda run: edit_info(run, lambda i: i.update(run_id="/tmp/escaped")), "run_id"),
    "run_id with NUL": (lambda run: edit_info(run, lambda i: i.update(run_id="a\x00b")), "run_id"),
    "run_id of 5,000 characters": (lambda run: edit_info(run, lambda i: i.update(run_id="x" * 5000)), "run_id"),
    "max_pixels as text": (
        lambda run: edit_info(run, lambda i: i["frame_settings"].update(max_pixels="lots")),
        "frame_settings.max_pixels",
    ),
    "max_pixels of 1e400": (lambda run: replace_text(run, '"max_pixels": 1003520', '"max_pixels": 1e400'), "1e400"),
    "negative screen width": (
        lambda run: edit_first_step(run, lambda s: s["geometry"].update(width=-300)),
        "geometry.width",
    ),
    "negative device width": (lambda run: edit_info(run, lambda i: i["device"].update(width=-1300)), "device.width"),
    "a decompression bomb": (
        lambda run: (run / "step-0001.png").write_bytes(png_claiming(100_000, 100_000)),
        "step-0001.png",
    ),
}


def outside(tmp_path: Path, run: Path) -> list[str]:
    """Everything under tmp_path that is neither the run nor its runs folder: what the export wrote elsewhere."""
    return sorted(
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if not p.is_relative_to(run.parent) and p != tmp_path / "out"
    )


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_run_is_refused_with_one_line_and_nothing_written(scripted_run, tmp_path: Path, case: str) -> None:
    run = scripted_run()
    damage, words = HOSTILE[case]
    damage(run)
    (tmp_path / "out").mkdir()
    result = CliRunner().invoke(APP, ["export", str(run), "-o", str(tmp_path / "out" / "data")])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert output.startswith("error:") and words in output and "Traceback" not in output, output
    assert outside(tmp_path, run) == [], "the export left or wrote files outside its output folder"


def test_a_plain_run_id_still_names_the_image_folder(scripted_run, tmp_path: Path) -> None:
    run = scripted_run()
    edit_info(run, lambda i: i.update(run_id="my run ü"))
    result = CliRunner().invoke(APP, ["export", str(run), "-o", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "data" / "images").iterdir()] == ["my run ü"]


def long_run(directory: Path, steps: int) -> Path:
    """A finished desktop run of ``steps`` clicks on full-HD screenshots: slow enough to kill mid-export."""
    from qwen_gui_agent.agent.records.run_files import FrameRecord, GeometryRecord
    from tests.support.run_builders import add_step

    writer = new_writer(directory, frame_settings={"min_pixels": 3136, "max_pixels": 12845056})
    geometry, frame = GeometryRecord(width=1920, height=1080), FrameRecord(width=1932, height=1092)
    for index in range(1, steps + 1):
        image = screen_image(1920, 1080, ((index * 10, 40, index * 10 + 200, 400),))
        add_step(
            writer,
            index,
            image=image,
            geometry=geometry,
            frame=frame,
            answer=f"Action: click(start_box='({index * 10 + 50},60)')",
            actions=[f"click(start_box='({index * 10 + 50},60)')"],
        )
    writer.update(status="success", ended_at=time.time())
    writer.close()
    return directory


@pytest.mark.slow
def test_a_killed_export_leaves_nothing_the_next_export_does_not_remove(tmp_path: Path) -> None:
    run = long_run(tmp_path / "runs" / "run", 40)
    output = tmp_path / "out" / "data"
    output.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [*AGENT_COMMAND, "export", str(run), "-o", str(output)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Killed as soon as it has written its first image into the hidden staging folder.
        while child.poll() is None and not list(output.parent.glob(".data.partial-*/images/*/*.png")):
            time.sleep(0.01)
        assert child.poll() is None, "the export finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert list(output.parent.glob(".data.partial-*")), "the kill left no partial folder: nothing was tested"
    result = CliRunner().invoke(APP, ["export", str(run), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in output.parent.iterdir()] == ["data"]  # the partial folder of the killed export is gone
    assert "removed" in result.output and "killed" in result.output


def test_a_partial_folder_of_a_running_export_is_left_alone(scripted_run, tmp_path: Path) -> None:
    running = tmp_path / f".data.partial-{os.getpid()}-abc123"  # this process is alive: its export may be going
    running.mkdir()
    result = CliRunner().invoke(APP, ["export", str(scripted_run()), "-o", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert running.is_dir()
