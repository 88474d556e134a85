"""``benchmarks/flywheel_reading.py``: which rows it swaps, the figures it gives for a real trained model, its table line."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.flywheel_reading import measure, one_token_words, swappable_rows, typing_rows
from benchmarks.flywheel_table import reading
from tests.agent.eval.episode_figures.conftest import uitars_row
from tests.support.cli import REPO

TRAINED = REPO / "tests" / "support" / "trained_small_qwen"
SCRIPT = REPO / "benchmarks" / "flywheel_reading.py"
SYSTEM = "You are a helpful assistant that operates a device for the user."


def _row(task: str, answer: dict[str, object], image: str) -> dict[str, object]:
    call = {"name": "computer_use", "arguments": answer}
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"The task: {task}\n\nHere is the screen now. Make the next call.<image>"},
            {"role": "assistant", "content": f"<tool_call>\n{json.dumps(call)}\n</tool_call>"},
        ],
        "images": [image],
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    Image.new("RGB", (112, 140), "white").save(folder / "images" / "step.png")
    asked_and_answered = [
        ("Keli", {"action": "type", "text": "Keli"}),
        ("Vina", {"action": "left_click", "coordinate": [46, 42]}),
        ("Vina", {"action": "type", "text": "Emile"}),
        ("Sergio", {"action": "type", "text": "Sergio"}),
        ("Zzyx", {"action": "type", "text": "Zzyx"}),
    ]
    rows = [
        _row(f'Enter "{word}" into the text field and press Submit.', answer, "images/step.png")
        for word, answer in asked_and_answered
    ]
    # UI-TARS's typing row: two turns, two screenshots.
    rows.append(
        uitars_row('Enter "Keli" into the text field.', "Thought: Type \"Keli\".\nAction: type(content='Keli')")
    )
    (folder / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def test_only_rows_that_type_the_asked_word_are_swapped(data: Path) -> None:
    from transformers import AutoTokenizer

    assert len(typing_rows(data)) == 4  # the reading stage's: both dialects
    rows = swappable_rows(data)
    asked = [row["messages"][-1]["content"] for row in rows]
    # Not the click, not the other word, not UI-TARS's.
    assert len(rows) == 3 and all('"type"' in answer for answer in asked)
    words = one_token_words(rows, AutoTokenizer.from_pretrained(TRAINED))
    assert sorted(words) == ["Keli", "Sergio"]  # "Zzyx" is four tokens of this vocabulary


def test_the_trained_model_is_measured_on_every_chosen_row(data: Path) -> None:
    result = measure(TRAINED, data, rows_wanted=10, seed=0)
    assert result is not None
    assert result["rows"] == 2 and result["words"] == 2 and result["chance_rank"] == 1.5
    assert 1 <= result["median_rank"] <= 2
    assert result["mean_kl"] >= 0 and math.isfinite(result["mean_kl"])
    (line, _) = reading({"reading": result})  # the flywheel's table prints it
    assert line.startswith("Reading the task's word (2 training rows") and "chance 1.5" in line


def test_rows_without_a_one_token_word_to_swap_give_none_and_exit_2(data: Path) -> None:
    rows = (data / "train.jsonl").read_text().splitlines()
    kept = [row for row in rows if "Zzyx" in row or "left_click" in row or "type(content=" in row]
    (data / "train.jsonl").write_text("\n".join(kept) + "\n")  # UI-TARS's "Keli" is not swapped
    assert measure(TRAINED, data) is None
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", str(TRAINED), "--data", str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "export enter-text runs" in done.stderr
    assert reading({"reading": None}) == []


def test_a_missing_folder_exits_2_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", str(TRAINED), "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert str(tmp_path / "none" / "train.jsonl") in done.stderr
