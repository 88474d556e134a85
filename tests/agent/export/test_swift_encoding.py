"""ms-swift's own qwen2_5_vl template encodes each exported row to exactly what our local backend sent.

For runs recorded in both dialects: input ids (compared as token ids), pixel values and image grids
identical to the local backend's at that step, and the labels cover exactly the answer (plus the
end-of-turn token ms-swift trains the model to stop with).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qwen_gui_agent.agent.export.manifest import exported_files
from qwen_gui_agent.agent.export.summary import ExportOptions
from qwen_gui_agent.agent.export.swift import export_runs
from qwen_gui_agent.agent.records.run_files import load_run

DIALECTS = ("uitars", "qwen")


def exported_rows(run_dir: Path, output: Path, options: ExportOptions = ExportOptions()) -> list[tuple[dict, int]]:
    """(row with absolute image paths, its step index) for every line of the export's data files (action rows,
    then grounding rows)."""
    export_runs([run_dir], output, options)
    manifest = json.loads((output / "manifest.json").read_text())
    rows, steps = [], []
    for name, sources in exported_files(manifest):
        rows += [json.loads(line) for line in (output / name).read_text().splitlines()]
        steps += [int(source.rsplit("step-", 1)[1]) for source in sources]
    for row in rows:
        row["images"] = [str(output / path) for path in row["images"]]
    return list(zip(rows, steps, strict=True))


def model_call_of_step(run_dir: Path) -> dict[int, int]:
    """Step index -> the number of the model call made for it (ai and tap steps ask the model once each)."""
    steps = [step.index for step in load_run(run_dir).steps if step.kind in ("ai", "tap")]
    return {index: call for call, index in enumerate(steps)}


def encode(template, row: dict) -> dict:
    return template.encode(json.loads(json.dumps(row)))  # a copy: the template rewrites what it is given


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_exported_row_encodes_to_what_the_local_backend_sent(dialect, recorded_runs, swift_template, tmp_path):
    recorded = recorded_runs[dialect]
    rows = exported_rows(recorded.run_dir, tmp_path / "data")
    calls = model_call_of_step(recorded.run_dir)
    tokenizer = swift_template.tokenizer
    end_of_turn = tokenizer("<|im_end|>\n", add_special_tokens=False)["input_ids"]
    kinds = {step.index: step.kind for step in load_run(recorded.run_dir).steps}
    # Every usable step (the parse error at step 2 is skipped), the tap included.
    usable_ai_steps = 4 if dialect == "uitars" else 3
    assert [kinds[step] for _, step in rows] == ["ai"] * usable_ai_steps + ["tap"]
    assert 2 not in [step for _, step in rows]
    for row, step in rows:
        sent = recorded.sent[calls[step]]
        encoded = encode(swift_template, row)
        answer = row["messages"][-1]["content"]
        if kinds[step] == "tap":  # the placeholders are written out by ms-swift (QWENVL_BBOX_FORMAT=new)
            answer = grounding_answer_text(row)
        answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
        assert encoded["input_ids"] == sent.input_ids + answer_ids + end_of_turn, f"step {step}"
        assert encoded["labels"] == [-100] * len(sent.input_ids) + answer_ids + end_of_turn, f"step {step}"
        assert torch.equal(encoded["image_grid_thw"], sent.image_grid_thw), f"step {step}"
        assert torch.equal(encoded["pixel_values"], sent.pixel_values), f"step {step}"


def grounding_answer_text(row: dict) -> str:
    """The grounding answer as ms-swift writes it: <bbox> as a JSON list of whole pixels, <ref-object> as the text."""
    text = row["messages"][-1]["content"]
    refs = iter(row["objects"]["ref"][1:])
    text = text.replace("<bbox>", str([int(round(value)) for value in row["objects"]["bbox"][0]]))
    while "<ref-object>" in text:
        text = text.replace("<ref-object>", next(refs), 1)
    return text


@pytest.mark.slow
def test_uitars_rows_carry_history_answers_without_loss_and_a_written_turn_break(recorded_runs, tmp_path):
    rows = exported_rows(recorded_runs["uitars"].run_dir, tmp_path / "data")
    last_action = [row for row, _ in rows if "objects" not in row][-1]
    roles = [message["role"] for message in last_action["messages"]]
    assert roles[0] == "user" and roles[-1] == "assistant"
    assert all(
        message.get("loss") is False for message in last_action["messages"][:-1] if message["role"] == "assistant"
    )
    assert last_action["messages"][-1]["loss"] is True
    assert "<|im_end|>\n<|im_start|>user\n<image>" in last_action["messages"][0]["content"]
    assert len(last_action["images"]) == last_action["messages"][0]["content"].count("<image>") + sum(
        message["content"].count("<image>") for message in last_action["messages"][1:]
    )
