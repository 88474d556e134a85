"""benchmarks/flywheel.py's trainings: the reading stage's rows and command, and the main training starting from it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from benchmarks.flywheel_reading import typing_rows
from benchmarks.flywheel_settings import parse_settings
from benchmarks.flywheel_train import main_training, reading_training, train_arguments
from tests.agent.eval.episode_figures.conftest import TIMEOUT_S, run_flywheel, uitars_row

ASKED = 'Enter "Keli" into the text field and press Submit.'


def _qwen(task: str, answer: str) -> dict[str, object]:
    return {
        "messages": [
            {"role": "system", "content": "You operate a device."},
            {"role": "user", "content": f"The task: {task}\n\nHere is the screen now.<image>"},
            {"role": "assistant", "content": answer},
        ],
        "images": ["images/a.png"],
    }


@pytest.fixture
def out(tmp_path: Path) -> Path:
    data = tmp_path / "work" / "data"
    data.mkdir(parents=True)
    rows = [
        _qwen(
            ASKED,
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "Keli"}}\n</tool_call>',
        ),
        _qwen(
            ASKED,
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "Vina"}}\n</tool_call>',
        ),
        _qwen(
            ASKED,
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, 2]}}\n</tool_call>',
        ),
        _qwen(
            "Click the button.",
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "Keli"}}\n</tool_call>',
        ),
        uitars_row(ASKED, "Thought: Type \"Keli\" into the text field.\nAction: type(content='Keli')"),
        uitars_row(ASKED, "Thought: Submit.\nAction: click(start_box='(50,80)')"),
    ]
    (data / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    manifest = {"data": "train.jsonl", "swift_sft": ["swift", "sft", "--model", "Qwen", "--lora_rank", "8"]}
    (data / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path / "work"


def test_the_reading_rows_type_the_asked_word(out: Path) -> None:
    rows = typing_rows(out / "data")
    (qwen, uitars) = [row["messages"][-1]["content"] for row in rows]
    # Not another word, not a click, not a task that asks for no word; both dialects.
    assert '"text": "Keli"' in qwen and "type(content='Keli')" in uitars


def test_the_reading_stage_trains_from_random_weights_and_the_main_training_from_it(out: Path) -> None:
    settings = parse_settings(["--out", str(out), "--reading-steps", "300"], "")
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    reading = train_arguments(manifest, settings, reading_training(settings))
    flags = dict(zip(reading[::2], reading[1::2], strict=True))
    assert flags["--model"] == str(out / "model-init") and flags["--dataset"] == str(out / "reading" / "rows.jsonl")
    assert flags["--max_steps"] == "300" and flags["--learning_rate"] == "0.003"
    assert flags["--output_dir"] == str(out / "sft-reading") and "--lora_rank" not in flags
    main = dict(zip(*[iter(train_arguments(manifest, settings))] * 2, strict=True))
    assert main["--model"] == str(out / "model-reading") and main["--dataset"] == str(out / "data" / "train.jsonl")
    assert main["--max_steps"] == "2000" and main["--learning_rate"] == "0.001"
    assert main_training(parse_settings(["--out", str(out)], "")).model == out / "model-init"  # no reading stage


def _flags(arguments: list[str]) -> dict[str, list[str]]:
    """swift sft's arguments by flag (--dataset takes several values)."""
    flags: dict[str, list[str]] = {}
    for part in arguments:
        if part.startswith("--"):
            flags[part] = values = []
        else:
            values.append(part)
    return flags


def test_typing_repeats_add_the_typing_rows_again_and_the_seed_reaches_swift(out: Path) -> None:
    settings = parse_settings(["--out", str(out), "--typing-repeats", "3", "--training-seed", "7"], "")
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    flags = _flags(train_arguments(manifest, settings, main_training(settings, [(out / "reading" / "rows.jsonl", 6)])))
    assert flags["--dataset"] == [str(out / "data" / "train.jsonl"), f"{out / 'reading' / 'rows.jsonl'}#6"]
    assert flags["--seed"] == ["7"] and flags["--model"] == [str(out / "model-init")]
    plain = parse_settings(["--out", str(out)], "")
    flags = _flags(train_arguments(manifest, plain, main_training(plain)))
    assert flags["--dataset"] == [str(out / "data" / "train.jsonl")] and flags["--seed"] == ["42"]
    with pytest.raises(SystemExit):
        parse_settings(["--out", str(out), "--typing-repeats", "-1"], "")


def test_swift_reads_the_repeated_rows_as_that_many_rows(out: Path) -> None:
    """The FILE#N form is ms-swift's own: its loader gives the exported rows and the typing rows again."""
    swift_loader = pytest.importorskip("swift.dataset", reason="the ms-swift tests need the train extra")
    settings = parse_settings(["--out", str(out), "--typing-repeats", "3"], "")
    from benchmarks.flywheel_train import repeated_rows

    assert repeated_rows(settings) == [(out / "reading" / "rows.jsonl", 3 * 2)]
    train, _ = swift_loader.load_dataset(list(main_training(settings, repeated_rows(settings)).datasets))
    assert len(train) == 6 + 3 * 2
    seen = Counter(_conversation(row) for row in train)
    typed = {_conversation(row) for row in typing_rows(out / "data")}
    assert all(seen[conversation] == 1 + 3 for conversation in typed)  # the export's row, then three more times
    assert sum(count for conversation, count in seen.items() if conversation not in typed) == 4  # the rest once


def _conversation(row: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(message["content"] for message in row["messages"])


@pytest.mark.slow
@pytest.mark.xvfb
def test_the_chain_reads_first_then_trains_all_rows_from_there(browser: None, tmp_path: Path) -> None:
    pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
    work = tmp_path / "flywheel"
    run_flywheel(
        *("--out", str(work), "--tasks", "enter-text", "--uitars-tasks", "", "--episodes-of", "enter-text=2"),
        *("--recovery-episodes", "0", "--heldout-episodes", "1", "--reading-steps", "2", "--train-steps", "2"),
        *("--batch", "2", "--max-new-tokens", "8", "--parallel", "1", "--typing-repeats", "1"),
        *("--repeat-kind", "click=1"),
        timeout_s=TIMEOUT_S,
    )

    exported = (work / "data" / "train.jsonl").read_text().splitlines()
    read = (work / "reading" / "rows.jsonl").read_text().splitlines()
    assert len(read) == 2 and all(row in exported for row in read)  # the export's rows, unchanged: one per seed
    assert len(exported) > len(read)
    reading = json.loads((work / "read-command.json").read_text())["command"]
    assert reading[reading.index("--model") + 1] == str(work / "model-init")
    assert reading[reading.index("--dataset") + 1] == str(work / "reading" / "rows.jsonl")
    main = json.loads((work / "train-command.json").read_text())["command"]
    assert main[main.index("--model") + 1] == str(work / "model-reading")
    # swift sft trained on the export's rows, then the typing rows and the click rows once more each
    clicks = len((work / "repeats" / "click.jsonl").read_text().splitlines())
    datasets = main[main.index("--dataset") + 1 : main.index("--dataset") + 4]
    assert datasets == [
        str(work / "data" / "train.jsonl"),
        f"{work / 'reading' / 'rows.jsonl'}#2",
        f"{work / 'repeats' / 'click.jsonl'}#{clicks}",
    ]
    assert clicks >= 2  # the field's click and Submit's, on each seed
    weights = [
        load_file(str(work / name / "model.safetensors")) for name in ("model-init", "model-reading", "model-trained")
    ]
    for before, after in zip(weights, weights[1:], strict=False):  # each training changed the weights
        assert any(not before[name].equal(after[name].to(before[name].dtype)) for name in before)
    (ran,) = json.loads((work / "flywheel.json").read_text())["commands"]
    assert {"read", "train"} <= set(ran["stages"])


def test_repeat_kind_adds_the_rows_whose_answer_is_that_kind_in_either_dialect(out: Path) -> None:
    from benchmarks.flywheel_kinds import answer_kind
    from benchmarks.flywheel_train import repeated_rows

    settings = parse_settings(["--out", str(out), "--repeat-kind", "click=2", "--typing-repeats", "1"], "")
    assert settings.kind_repeats == {"click": 2}
    assert parse_settings(["--out", str(out), "--repeat-kind", "click=0"], "").kind_repeats == {}
    assert repeated_rows(settings) == [(out / "reading" / "rows.jsonl", 2), (out / "repeats" / "click.jsonl", 2 * 2)]
    clicks = [json.loads(line)["messages"][-1]["content"] for line in (out / "repeats" / "click.jsonl").open()]
    assert [answer_kind(answer) for answer in clicks] == ["click", "click"] and clicks[1].startswith("Thought:")
    assert answer_kind("Thought: x\nAction: scroll(start_box='(5,6)', direction='up')") == "scroll"
    assert answer_kind("I would scroll up.") is None
    with pytest.raises(SystemExit, match=r"train.jsonl: no row answers with a scroll action"):
        repeated_rows(parse_settings(["--out", str(out), "--repeat-kind", "scroll=2"], ""))
    for wrong in ("scroll", "../scroll=2", "=2"):
        with pytest.raises(SystemExit):
            parse_settings(["--out", str(out), "--repeat-kind", wrong], "")


def test_the_flywheel_imports_where_only_training_runs() -> None:
    """A GPU machine that runs --stages train has ms-swift, not the browser's and desktop's packages."""
    import subprocess
    import sys

    blocked = "tenacity"  # the desktop capture's retries: on the eval's side only
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        f"    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] == {blocked!r}: raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import benchmarks.flywheel, benchmarks.flywheel_train\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[4])
    assert done.returncode == 0, done.stderr[-2000:]
