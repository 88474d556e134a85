"""benchmarks/flywheel_spread.py: several runs of a recipe side by side, and whether each meets the bar."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.flywheel_spread import main, meets_bar, spread_table


def _row(task: str, parse: float, kind: float, success: float) -> dict[str, Any]:
    return {"task": task, "parse_rate": parse, "kind_rate": kind, "success_rate": success}


def _report(enter_kind: float, reading: float | None) -> dict[str, Any]:
    return {
        "figures": {
            "init-qwen": [_row("click-test", 0, 0, 0), _row("enter-text", 0, 0, 0)],
            "trained-qwen": [_row("click-test", 1, 1, 0.25), _row("enter-text", 0.95, enter_kind, 0.8)],
            "trained-qwen-by-index": [_row("click-test", 1, 0.5, 0.25), _row("enter-text", 1, 0.5, 0.8)],
        },
        "reading": {"first": reading} if reading is not None else None,
    }


def test_each_run_is_a_column_and_the_bar_is_judged_on_every_task() -> None:
    reports = {"seed-42": _report(0.92, 1.0), "seed-7": _report(0.74, None)}
    assert meets_bar(reports["seed-42"], 0.9) and not meets_bar(reports["seed-7"], 0.9)
    assert not meets_bar(reports["seed-42"], 0.96)  # enter-text parses on 95% of its steps
    assert spread_table(reports, 0.9).splitlines() == [
        "| task | dialect | seed-42 | seed-7 |",
        "|---|---|---:|---:|",
        "| click-test | qwen | 100% / 25% | 100% / 25% |",
        "| enter-text | qwen | 92% (95% parse) / 80% | 74% (95% parse) / 80% |",
        "| meets the bar (90%) | | yes | no |",
        "| reads the word (first) | | 100% | - |",
    ]


def test_a_folder_without_figures_is_named_with_the_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = tmp_path / "done"
    done.mkdir()
    (done / "flywheel.json").write_text(json.dumps(_report(1, 1)))
    assert main([f"a={done}"]) == 0 and "| enter-text | qwen | 100% (95% parse) / 80% |" in capsys.readouterr().out
    assert main([f"a={done}", f"b={tmp_path / 'empty'}"]) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error
        == f"{tmp_path / 'empty' / 'flywheel.json'}: no figures yet; run benchmarks/flywheel.py --out {tmp_path / 'empty'} to its table stage"
    )
