"""Bad input to `agent export` / `agent label`: each a clear error (exit 2), and nothing half-written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands.export import register
from qwen_gui_agent.agent.records.labels import LABELS_FILE
from qwen_gui_agent.agent.records.run_files import RUN_FILE, STEPS_FILE
from tests.support.cli import single_group_app

APP = single_group_app(register)


def agent(*args: str):
    return CliRunner().invoke(APP, list(args))


def nothing_written(output: Path) -> bool:
    """Neither the folder nor a temporary one beside it."""
    return not output.exists() and not any(output.parent.glob(f".{output.name}*"))


def set_status(run: Path, status: str) -> None:
    info = json.loads((run / RUN_FILE).read_text())
    (run / RUN_FILE).write_text(json.dumps({**info, "status": status}))


@pytest.mark.parametrize("status", ["running", "error"])
def test_an_incomplete_or_crashed_run_is_refused(scripted_run, tmp_path, status):
    run = scripted_run()
    set_status(run, status)
    done = agent("export", str(run), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2
    assert "incomplete or crashed run" in done.output and repr(status) in done.output
    assert nothing_written(tmp_path / "data")


def test_a_run_cut_off_mid_write_is_refused(scripted_run, tmp_path):
    run = scripted_run()
    with open(run / STEPS_FILE, "a", encoding="utf-8") as steps:
        steps.write('{"index": 9, "started_at": 1.0, "kind": "ai", "ans')  # killed mid-line
    done = agent("export", str(run), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2 and "its last step was cut off" in done.output
    assert nothing_written(tmp_path / "data")


def test_a_run_without_its_images_is_refused_after_other_runs_were_written(scripted_run, tmp_path):
    good, bad = scripted_run("qwen"), scripted_run("uitars")
    for image in bad.glob("step-*.png"):
        image.unlink()
    done = agent("export", str(good), str(bad), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2
    assert "is missing or unreadable (" in done.output and "No such file" in done.output
    assert "a run without its images cannot be exported" in done.output
    assert nothing_written(tmp_path / "data")  # the good run's rows and images went with the staging folder


def test_an_existing_output_folder_is_left_alone(scripted_run, tmp_path):
    output = tmp_path / "data"
    output.mkdir()
    (output / "mine.txt").write_text("keep")
    done = agent("export", str(scripted_run()), "-o", str(output))
    assert done.exit_code == 2 and "already exists" in done.output
    assert [path.name for path in output.iterdir()] == ["mine.txt"]


def test_a_failed_run_is_not_exported_by_default(scripted_run, tmp_path):
    run = scripted_run()
    set_status(run, "failure")
    done = agent("export", str(run), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2 and "no usable model step" in done.output and "--include-failed" in done.output
    assert nothing_written(tmp_path / "data")
    assert agent("export", str(run), "-o", str(tmp_path / "data"), "--include-failed").exit_code == 0


def test_a_directory_that_is_no_run_is_refused(tmp_path):
    done = agent("export", str(tmp_path), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2 and "is not a recorded run" in done.output


@pytest.mark.parametrize(
    ("step", "action", "message"),
    [
        ("1", "clack(start_box='(60,40)')", "step 1:"),
        ("1", "click(start_box='(400,40)')", "outside the screen"),  # the frame is 308x196
        ("1", "click(start_box='(60,-1)')", "step 1:"),
        ("6", "type(content='hi')", "a tap (a grounding query): correct it with a click"),
        ("42", "click(start_box='(60,40)')", "the run has no step 42"),
    ],
)
def test_a_correction_that_does_not_parse_or_points_off_the_frame_is_refused(scripted_run, step, action, message):
    run = scripted_run()
    done = agent("label", str(run), "--step", step, action)
    assert done.exit_code == 2, done.output
    assert message in done.output
    assert not (run / LABELS_FILE).exists()


def test_a_hand_edited_correction_off_the_frame_stops_the_export(scripted_run, tmp_path):
    run = scripted_run()
    assert agent("label", str(run), "--step", "3", "click(start_box='(60,40)')").exit_code == 0
    labels = json.loads((run / LABELS_FILE).read_text())
    labels["corrections"]["3"]["action"] = "click(start_box='(900,40)')"
    (run / LABELS_FILE).write_text(json.dumps(labels))
    done = agent("export", str(run), "-o", str(tmp_path / "data"))
    assert done.exit_code == 2 and "step 3" in done.output and "outside the screen" in done.output
    assert nothing_written(tmp_path / "data")


@pytest.mark.parametrize("steps", ["5-3", "x-2", "1-2-3"])
def test_a_bad_step_range_is_refused(scripted_run, tmp_path, steps):
    done = agent("export", str(scripted_run()), "-o", str(tmp_path / "data"), "--steps", steps)
    assert done.exit_code == 2 and "--steps" in done.output


def test_the_output_folders_parents_are_made_as_docs_finetune_md_shows(scripted_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # `agent export RUN -o data/my-app` with no data/ yet
    done = agent("export", str(scripted_run()), "-o", "data/my-app")
    assert done.exit_code == 0, done.output
    readme = (tmp_path / "data" / "my-app" / "README.md").read_text(encoding="utf-8")
    assert str(tmp_path) not in readme and "/data/my-app" not in readme  # no absolute path: the folder can move
    assert "cd my-app" in readme and 'ROOT_IMAGE_DIR="$PWD"' in readme and "--dataset train.jsonl" in readme


def test_parents_made_for_an_export_that_fails_are_removed_again(scripted_run, tmp_path):
    run = scripted_run()
    set_status(run, "failure")
    done = agent("export", str(run), "-o", str(tmp_path / "new" / "deeper" / "data"))
    assert done.exit_code == 2 and "no usable model step" in done.output
    assert not (tmp_path / "new").exists()


def test_an_output_inside_a_file_is_refused(scripted_run, tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    done = agent("export", str(scripted_run()), "-o", str(tmp_path / "a-file" / "data"))
    assert done.exit_code == 2 and "a-file is not a directory" in done.output
