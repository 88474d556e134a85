"""What `agent export` writes: filters, corrections in the run's dialect, grounding rows, frame-sized images."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from qwen_gui_agent.agent.export.manifest import exported_files
from qwen_gui_agent.agent.export.rows import answer_for
from qwen_gui_agent.agent.export.swift import ExportOptions, export_runs
from qwen_gui_agent.agent.records.labels import add_label
from qwen_gui_agent.agent.records.run_files import FrameRecord, GeometryRecord, load_run
from qwen_gui_agent.tools.canonical import format_action, parse_action
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import ModelFrame, resize_to_frame
from tests.support.run_builders import add_step, new_writer, screen_image

FRAME = ModelFrame(308, 196)


def export(runs: list[Path], output: Path, **options) -> tuple[list[dict], list[str]]:
    """The rows of every data file (action rows, then grounding rows) and the "RUN/step-N" of each."""
    export_runs(runs, output, ExportOptions(**options))
    manifest = json.loads((output / "manifest.json").read_text())
    rows, sources = [], []
    for name, file_sources in exported_files(manifest):
        rows += [json.loads(line) for line in (output / name).read_text().splitlines()]
        sources += file_sources
    assert len(rows) == len(sources)
    return rows, sources


def steps_of(sources: list[str]) -> list[int]:
    return [int(source.rsplit("step-", 1)[1]) for source in sources]


def test_filters_parse_errors_and_step_range(scripted_run, tmp_path):
    run = scripted_run()  # 1 click, 2 parse error, 3 type, 4 scroll, 5 finished, 6 tap
    _, sources = export([run], tmp_path / "a")
    assert steps_of(sources) == [1, 3, 4, 5, 6]
    _, sources = export([run], tmp_path / "b", keep_parse_errors=True, grounding=False)
    assert steps_of(sources) == [1, 2, 3, 4, 5]
    _, sources = export([run], tmp_path / "c", first_step=3, last_step=5)
    assert steps_of(sources) == [3, 4, 5]


@pytest.mark.parametrize(
    ("options", "files"),
    [
        ({}, ["train.jsonl", "grounding.jsonl"]),
        ({"grounding": False}, ["train.jsonl"]),
        ({"first_step": 6}, ["grounding.jsonl"]),  # only the tap: no train.jsonl, which swift would refuse empty
    ],
)
def test_grounding_rows_have_their_own_file_and_the_command_names_each_file_with_rows(
    scripted_run, tmp_path, options, files
):
    # ms-swift fixes a .jsonl file's columns from its first block: rows with "objects" cannot follow rows without.
    rows, _ = export([scripted_run()], tmp_path / "data", **options)
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert sorted(path.name for path in (tmp_path / "data").glob("*.jsonl")) == sorted(files)
    assert [name for name, _ in exported_files(manifest)] == files
    assert manifest["data"] == ("train.jsonl" if "train.jsonl" in files else None)
    assert manifest["grounding_data"] == ("grounding.jsonl" if "grounding.jsonl" in files else None)
    for name, sources in exported_files(manifest):
        lines = [json.loads(line) for line in (tmp_path / "data" / name).read_text().splitlines()]
        assert len(lines) == len(sources) and all(("objects" in row) == (name == "grounding.jsonl") for row in lines)
    command = manifest["swift_sft"]
    named = command[command.index("--dataset") + 1 : command.index("--tuner_type")]
    assert named == [str((tmp_path / "data" / name).resolve()) for name in files]
    readme = (tmp_path / "data" / "README.md").read_text(encoding="utf-8")
    assert f"--dataset {' '.join(files)} \\\n" in readme


def test_a_step_out_of_range_still_shows_in_the_history_of_later_rows(scripted_run, tmp_path):
    rows, _ = export([scripted_run()], tmp_path / "data", first_step=4, last_step=4)
    history = [message["content"] for message in rows[0]["messages"] if message["role"] == "assistant"][:-1]
    assert history[0].endswith("Action: click(start_box='(40,30)')")
    assert "I am not sure what to do here." in history  # the parse error the model saw, and the feedback after it


def declined_run(directory: Path) -> Path:
    """A uitars run whose step 2's action the user declined at --confirm (written with the real RunWriter)."""
    writer = new_writer(
        directory, task="open the menu", dialect="uitars", frame_settings={"min_pixels": 3136, "max_pixels": 1003520}
    )
    geometry, frame = GeometryRecord(width=300, height=200), FrameRecord(width=308, height=196)
    answers = [
        "Thought: a\nAction: click(start_box='(10,10)')",
        "Thought: b\nAction: click(start_box='(20,20)')",
        "Thought: c\nAction: finished(content='ok')",
    ]
    for index, answer in enumerate(answers, start=1):
        action = format_action(get_dialect("uitars").parse(answer, FRAME).actions[0])
        step = add_step(
            writer,
            index,
            image=screen_image(300, 200, ((index * 20, 10, index * 20 + 30, 40),)),
            geometry=geometry,
            frame=frame,
            answer=answer,
            actions=[action],
        )
        if index == 2:  # rewrite the line as the loop records a declined action
            lines = (directory / "steps.jsonl").read_text().splitlines()
            lines[-1] = step.model_copy(update={"note": f"declined by the user: {action}"}).model_dump_json()
            (directory / "steps.jsonl").write_text("\n".join(lines) + "\n")
    writer.update(status="success", ended_at=time.time())
    writer.close()
    return directory


def test_declined_steps_are_skipped_unless_kept(tmp_path):
    run = declined_run(tmp_path / "run")
    _, sources = export([run], tmp_path / "a")
    assert steps_of(sources) == [1, 3]
    _, sources = export([run], tmp_path / "b", keep_declined=True)
    assert steps_of(sources) == [1, 2, 3]


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("uitars", "Thought: The menu is lower.\nAction: click(start_box='(60,40)')"),
        (
            "qwen",
            'The menu is lower.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
            '"coordinate": [60, 40]}}\n</tool_call>',
        ),
    ],
)
def test_a_correction_is_exported_in_the_runs_dialect_and_the_record_is_untouched(
    scripted_run, tmp_path, dialect, expected
):
    run = scripted_run(dialect)
    recorded = (run / "steps.jsonl").read_bytes()
    add_label(load_run(run), 1, "click(start_box='(60,40)')", "The menu is lower.")
    rows, sources = export([run], tmp_path / "data")
    assert rows[steps_of(sources).index(1)]["messages"][-1]["content"] == expected
    assert (run / "steps.jsonl").read_bytes() == recorded
    # Later rows show what really happened at step 1: the recorded answer, not the correction.
    assert "(60,40)" not in json.dumps(rows[steps_of(sources).index(3)]["messages"][:-1])


@pytest.mark.parametrize("dialect", ["uitars", "qwen"])
@pytest.mark.parametrize(
    "action",
    [
        "double_click(start_box='(5,6)')",
        "right_click(start_box='(300,190)')",
        "drag(start_box='(1,2)', end_box='(100,150)')",
        "scroll(start_box='(50,60)', direction='up')",
        "type(content='it\\'s \"quoted\"\\n')",
        "hotkey(key='ctrl c')",
        "finished(content='done')",
    ],
)
def test_corrected_answers_read_back_as_the_same_action(dialect, action):
    parsed = parse_action(action)
    answer = answer_for(get_dialect(dialect), [parsed], "why", "computer", FRAME)
    assert [format_action(a) for a in get_dialect(dialect).parse(answer, FRAME).actions] == [format_action(parsed)]


@pytest.mark.parametrize(
    ("dialect", "answer", "bbox"),
    [
        ("qwen", '[{"bbox_2d": <bbox>, "label": "<ref-object>"}]', [100, 60, 140, 100]),
        ("uitars", "<bbox>", [120, 80]),
    ],
)
def test_grounding_rows_use_the_objects_form_in_image_pixels(scripted_run, tmp_path, dialect, answer, bbox):
    rows, sources = export([scripted_run(dialect)], tmp_path / "data")
    row = rows[-1]
    assert row["messages"][-1]["content"] == answer
    assert "<ref-object>" in row["messages"][0]["content"] and "the blue Save button" not in json.dumps(row["messages"])
    assert row["objects"]["bbox"] == [bbox] and row["objects"]["bbox_type"] == "real"
    assert set(row["objects"]["ref"]) == {"the blue Save button"}
    with Image.open(tmp_path / "data" / row["images"][0]) as image:
        assert image.size == (FRAME.width, FRAME.height)  # the bbox is in this image's own pixels


def test_a_qwen3_grounding_row_reads_its_box_over_1000(scripted_run, tmp_path):
    # The tap's box is in thousandths over 1000 (Qwen3-VL's grounding scale), its tool calls over 999.
    answers = [
        (
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}'
            "\n</tool_call>"
        ),
        '[{"bbox_2d": [500, 250, 1000, 750], "label": "Save"}]',
    ]
    rows, _ = export([scripted_run("qwen3", answers=answers)], tmp_path / "data")
    row = rows[-1]
    with Image.open(tmp_path / "data" / row["images"][0]) as image:
        width, height = image.size
    assert row["objects"]["bbox"] == [[width / 2, height / 4, width, height * 3 / 4]]


def test_images_are_the_screenshots_resized_to_the_frame_by_the_agents_resize(scripted_run, tmp_path):
    run = scripted_run()
    rows, sources = export([run], tmp_path / "data")
    for row, step in zip(rows, steps_of(sources), strict=True):
        with (
            Image.open(tmp_path / "data" / row["images"][-1]) as exported,
            Image.open(run / f"step-{step:04d}.png") as original,
        ):
            expected = resize_to_frame(original.convert("RGB"), FRAME)
            assert exported.size == expected.size
            assert ImageChops.difference(exported.convert("RGB"), expected).getbbox() is None
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert manifest["environment"]["MAX_PIXELS"] == str(1280 * 28 * 28)
    assert "--tuner_type" in manifest["swift_sft"] and "qwen2_5_vl" in manifest["swift_sft"]
    assert "MAX_PIXELS=1003520" in (tmp_path / "data" / "README.md").read_text()
