"""Every data file the manifest's `swift sft` command names loads whole with the readers ms-swift uses.

ms-swift reads a ``.jsonl`` dataset with ``datasets.load_dataset("json", ...)``, which reads the file in blocks
(``chunksize``, 10 MB by default) and fixes the columns from the first block: a later block whose rows hold a
column, a message key or a number type the first block's did not fails with "Couldn't cast". Reading in blocks of
a few hundred bytes puts each row of these runs in a block of its own, as the rows of a multi-megabyte export
span many blocks.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from qwen_gui_agent.agent.export.manifest import exported_files
from qwen_gui_agent.agent.export.swift import export_runs

pytestmark = pytest.mark.slow

SMALL_BLOCK = 256  # bytes: shorter than any row, so each block holds one row


@pytest.fixture(scope="module")
def mixed_export(recorded_runs, tmp_path_factory) -> Path:
    """The qwen run first (its rows have no history answer and no grounding row at the top), then the uitars run."""
    output = tmp_path_factory.mktemp("mixed") / "data"
    export_runs([recorded_runs["qwen"].run_dir, recorded_runs["uitars"].run_dir], output)
    return output


def dataset_arguments(manifest: dict) -> list[str]:
    """The values of ``--dataset`` in the manifest's command."""
    command = manifest["swift_sft"]
    start = command.index("--dataset") + 1
    end = next(i for i in range(start, len(command)) if command[i].startswith("--"))
    return command[start:end]


def without_nulls(value):
    """A loaded row as written: the columns and keys a row lacks come back from arrow as None."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def written_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_command_names_each_file_with_rows(mixed_export):
    manifest = json.loads((mixed_export / "manifest.json").read_text())
    files = exported_files(manifest)
    assert [Path(path).name for path in dataset_arguments(manifest)] == [name for name, _ in files]
    assert [name for name, _ in files] == ["train.jsonl", "grounding.jsonl"]
    assert [len(sources) for _, sources in files] == [manifest["rows"]["action"], manifest["rows"]["grounding"]]
    for name, sources in files:
        assert len(written_rows(mixed_export / name)) == len(sources)
    readme = (mixed_export / "README.md").read_text(encoding="utf-8")
    assert "--dataset train.jsonl grounding.jsonl" in readme


def test_every_row_loads_with_datasets_in_small_blocks(mixed_export, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the ms-swift tests need the train extra")
    manifest = json.loads((mixed_export / "manifest.json").read_text())
    loaded_rows = 0
    for path in dataset_arguments(manifest):
        written = written_rows(Path(path))
        assert len(written) >= 2 and len(Path(path).read_bytes()) > 2 * SMALL_BLOCK  # the file spans several blocks
        loaded = datasets.load_dataset(
            "json", data_files=path, split="train", chunksize=SMALL_BLOCK, cache_dir=str(tmp_path / "cache")
        )
        assert [without_nulls(row) for row in loaded] == written, path  # loss marks and objects intact
        loaded_rows += len(loaded)
    assert loaded_rows == manifest["rows"]["action"] + manifest["rows"]["grounding"]
    learnt = [row for path in dataset_arguments(manifest) for row in written_rows(Path(path))]
    assert all(row["messages"][-1]["loss"] is True for row in learnt)
    assert any(message.get("loss") is False for row in learnt for message in row["messages"])  # uitars history
    assert sum("objects" in row for row in learnt) == 2  # one tap in each run


def test_every_row_loads_with_ms_swifts_own_loader_in_small_blocks(mixed_export, tmp_path, monkeypatch):
    pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
    import swift.dataset.loader as loader
    from swift.dataset import load_dataset

    read_json = loader.hf_load_dataset

    def in_small_blocks(*args, **kwargs):  # ms-swift has no option for the block size: its own call, smaller blocks
        return read_json(*args, **{**kwargs, "chunksize": SMALL_BLOCK, "cache_dir": str(tmp_path / "cache")})

    monkeypatch.setattr(loader, "hf_load_dataset", functools.wraps(read_json)(in_small_blocks))
    manifest = json.loads((mixed_export / "manifest.json").read_text())
    monkeypatch.setenv("ROOT_IMAGE_DIR", manifest["environment"]["ROOT_IMAGE_DIR"])
    train, validation = load_dataset(dataset_arguments(manifest), strict=True, load_from_cache_file=False)
    assert validation is None
    assert len(train) == manifest["rows"]["action"] + manifest["rows"]["grounding"]
    rows = list(train)
    learnt = [row["messages"][-1] for row in rows]
    assert all(message["role"] == "assistant" and message["loss"] is True for message in learnt)
    grounding = [row for row in rows if row.get("objects")]
    assert len(grounding) == manifest["rows"]["grounding"] == 2


def qwen3_tap(box: list[int]) -> list[str]:
    """A qwen3 run's answers: done at once, then the tap's box in thousandths (scaled to the image's pixels)."""
    done = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'
    )
    return [done, json.dumps([{"bbox_2d": box, "label": "Save"}])]


def test_grounding_boxes_in_whole_and_fractional_pixels_load_in_small_blocks(scripted_run, tmp_path):
    datasets = pytest.importorskip("datasets", reason="the ms-swift tests need the train extra")
    runs = [scripted_run("qwen3", answers=qwen3_tap(box)) for box in ([500, 250, 1000, 750], [501, 250, 1000, 750])]
    export_runs(runs, tmp_path / "data")
    path = tmp_path / "data" / "grounding.jsonl"
    written = written_rows(path)
    boxes = [row["objects"]["bbox"][0] for row in written]
    assert boxes[0][0] == 154 and boxes[1][0] == pytest.approx(154.31)  # 500 and 501 thousandths of 308 pixels
    loaded = datasets.load_dataset(
        "json", data_files=str(path), split="train", chunksize=SMALL_BLOCK, cache_dir=str(tmp_path / "cache")
    )
    assert [without_nulls(row) for row in loaded] == written
