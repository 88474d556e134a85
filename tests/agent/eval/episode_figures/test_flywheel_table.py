"""benchmarks/flywheel_table.py: the lines under the flywheel's table that say where the trained model's answers break."""

from __future__ import annotations

import json

from benchmarks.flywheel_table import parse_by_step, wrong_kinds


def test_the_steps_where_answers_broke_are_listed_per_task_and_the_rest_left_out() -> None:
    report = {
        "figures": {
            "init-uitars": [{"task": "click-test", "parsed_by_index": [0, 0], "steps_by_index": [2, 2]}],
            "trained-uitars": [
                {"task": "click-test", "parsed_by_index": [20, 10, 0], "steps_by_index": [20, 10, 5]},
                {"task": "enter-text", "parsed_by_index": [20, 20], "steps_by_index": [20, 20]},
            ],
            "trained-uitars-by-index": [
                {"task": "click-test", "parsed_by_index": [0], "steps_by_index": [20]},
            ],
        }
    }
    assert parse_by_step(report) == [
        "Answers that parse, trained, by step (parsed/steps at step 1, 2, ...):",
        "",
        "- click-test (uitars): 20/20 10/10 0/5",
        "",
    ]
    # Every trained answer parsed (or a report from before the figures had steps by index): no lines.
    report["figures"]["trained-uitars"] = [{"task": "enter-text", "parsed_by_index": [1], "steps_by_index": [1]}]
    assert parse_by_step(report) == []
    report["figures"]["trained-uitars"] = [{"task": "enter-text"}]
    assert parse_by_step(report) == []


def test_a_wrong_kind_names_its_seeds_while_few() -> None:
    report = {
        "figures": {
            "trained-qwen": [
                {
                    "task": "choose-list",
                    "wrong_kinds": {"click → type": 5, "click → hotkey": 9},
                    "wrong_kind_seeds": {
                        "click → type": [100009, 100012],
                        "click → hotkey": list(range(100000, 100007)),
                    },
                },
                {"task": "drag-box", "wrong_kinds": {"drag → click": 1}},  # a report from before the seeds
            ]
        }
    }
    assert wrong_kinds(report)[2:4] == [
        "- choose-list (qwen): click → type 5 (seeds 100009, 100012), click → hotkey 9 (in 7 episodes)",
        "- drag-box (qwen): drag → click 1",
    ]


def test_a_stored_run_renders_as_its_table_did() -> None:
    """The table stage's whole output, from a run's flywheel.json kept in the docs, byte for byte."""
    from pathlib import Path

    from benchmarks.flywheel_table import markdown_table

    run = Path(__file__).parents[4] / "docs" / "results" / "2026-12-07-flywheel-weighted-rows" / "cpu-4k-typing8-s7"
    report = json.loads((run / "flywheel.json").read_text())
    assert markdown_table(report) == (run / "table.md").read_text()
