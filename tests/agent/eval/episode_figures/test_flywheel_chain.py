"""``benchmarks/flywheel.py`` end to end at toy size: every stage runs the real tools on what the previous wrote.

Record (the reference policy in Chromium, clean and with one or two deliberate misses), ``agent export``, the small
model built from the export's text, ``swift sft`` for two steps, the reference on a held-out seed,
``agent eval miniwob`` with the random and the trained model, the table. Numbers at this size say
nothing (docs/finetune.md has the real run); what is checked is that the chain is one piece: the
model trained on exactly the rows the export wrote, and the figures come from the eval's runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.agent.eval.episode_figures.conftest import run_flywheel

pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
pytestmark = [pytest.mark.xvfb, pytest.mark.slow]
TIMEOUT_S = 1800  # a hang guard for the child process, not a speed goal


def test_the_chain_trains_on_the_exported_rows_and_reports_both_models(browser: None, tmp_path: Path) -> None:
    out = tmp_path / "flywheel"
    arguments = [
        "--out",
        str(out),
        "--tasks",
        "click-test",
        "--uitars-tasks",
        "",
        "--train-episodes",
        "2",
        "--episodes-of",
        "click-test=2",
        "--recovery-episodes",
        "1",
        "--recovery-misses",
        "1,2",
        "--heldout-episodes",
        "1",
        "--train-steps",
        "2",
        "--batch",
        "2",
        "--max-new-tokens",
        "8",
        "--parallel",
        "1",
    ]
    done = run_flywheel(*arguments, timeout_s=TIMEOUT_S)

    manifest = json.loads((out / "data" / "manifest.json").read_text())
    # Two clean runs, one with a miss and one with two (on its own seed); the misses are skipped as
    # answers, each recovery learnt.
    assert len(manifest["runs"]) == 4 and manifest["rows"]["action"] == 4
    assert [skip["reason"].split(" (")[0] for skip in manifest["skipped_steps"]] == ["a deliberate miss"] * 3
    twice = json.loads((out / "demos" / "qwen-recovery-1-misses-2" / "results.json").read_text())
    assert [episode["seed"] for episode in twice["episodes"]] == [60000]
    trained_on = json.loads((out / "train-command.json").read_text())["command"]
    datasets = trained_on[trained_on.index("--dataset") + 1 : trained_on.index("--dataset") + 2]
    assert datasets == [str(out / "data" / "train.jsonl")]
    assert trained_on[trained_on.index("--max_steps") + 1] == "2"

    before = load_file(str(out / "model-init" / "model.safetensors"))
    after = load_file(str(out / "model-trained" / "model.safetensors"))
    assert before.keys() == after.keys()
    assert any(not before[name].equal(after[name].to(before[name].dtype)) for name in before)  # it trained

    report = json.loads((out / "flywheel.json").read_text())
    assert report["loss"][0]["step"] == 1 and report["loss"][0]["loss"] > 0  # ms-swift's log, read back
    for model in ("init", "trained"):
        (row,) = report["figures"][f"{model}-qwen"]
        assert row["task"] == "click-test" and row["episodes"] == 1
        results = json.loads((out / "eval" / f"{model}-qwen" / "results.json").read_text())
        assert results["summary"]["overall"]["episodes"] == 1
    assert report["reading"] is None  # click-test alone: no row types a word its task asks for
    table = (out / "table.md").read_text()
    assert "| click-test | qwen | 1 |" in table and "| train |" in table
    assert table in done.stdout

    # The table again, from a command with other settings: the first command's, which trained, are kept.
    again = [*arguments[: arguments.index("--train-steps")], "--train-steps", "5", "--stages", "table"]
    run_flywheel(*again, timeout_s=TIMEOUT_S)
    report = json.loads((out / "flywheel.json").read_text())
    first, second = report["commands"]
    assert first["settings"]["train_steps"] == 2 and "train" in first["stages"]
    assert second["settings"]["train_steps"] == 5 and second["stages"] == {}
    assert report["settings"] == second["settings"] and "train" in report["stages"]
