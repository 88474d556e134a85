"""agent eval through the local backend on the tiny random Qwen2.5-VL, as a user runs it (a child process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.agent.eval.support import check_html
from tests.support.cli import REPO, run_agent
from tests.support.make_grounding_set import make_screenspot_pro
from tests.support.run_builders import three_step_run

pytest.importorskip("torch")


def local_flags(model: Path) -> list[str]:
    return [
        "--backend",
        "local",
        "--model",
        str(model),
        "--source",
        "local",
        "--torch-device",
        "cpu",
        "--max-pixels",
        "64*28*28",
        "--max-new-tokens",
        "12",
    ]


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
    return {**env, "PYTHONPATH": str(REPO)}


def test_grounding_eval_completes_resumes_and_writes_valid_results(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    data, out = tmp_path / "pro", tmp_path / "out"
    items = make_screenspot_pro(data)
    first = run_agent(
        ["eval", "grounding", str(data), "-o", str(out), "--limit", "3", *local_flags(tiny_qwen_dir)],
        env=environment(),
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    done = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(done) == 3

    second = run_agent(
        ["eval", "grounding", str(data), "-o", str(out), *local_flags(tiny_qwen_dir)], env=environment(), timeout=600
    )
    assert second.returncode == 0, second.stderr
    assert f"3 of {len(items)} item(s) already done" in second.stderr
    lines = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines[:3] == done and len(lines) == len(items)  # the first three were not asked again

    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    summary = document["summary"]
    assert summary["items"] == len(items) and summary["errors"] == 0
    assert sum(summary["outcomes"].values()) == len(items)
    assert {record["outcome"] for record in document["items"]} <= {"hit", "miss", "unparsed"}
    assert all(record["frame"] for record in document["items"])  # the frame the tiny model saw, recorded
    assert sum(v["items"] for v in summary["groups"]["group"].values()) == len(items)
    page = check_html(out / "report.html")
    assert page.tags.count("section") == len(document["misses"])


def test_steps_eval_of_a_recorded_run_completes(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    run = three_step_run(tmp_path / "run")
    out = tmp_path / "out"
    result = run_agent(
        ["eval", "steps", str(run), "-o", str(out), "--dialect", "uitars", *local_flags(tiny_qwen_dir)],
        env=environment(),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["summary"]["items"] == 3
    check_html(out / "report.html")


def test_parallel_local_eval_batches_and_scores_as_one_at_a_time(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    """--parallel with the local backend: one model, the waiting items batched; the same answers as one by one."""
    data = tmp_path / "pro"
    make_screenspot_pro(data)
    outcomes = {}
    for parallel in ("1", "3"):
        out = tmp_path / f"out{parallel}"
        result = run_agent(
            [
                "-v",
                "eval",
                "grounding",
                str(data),
                "-o",
                str(out),
                "--limit",
                "6",
                "--parallel",
                parallel,
                *local_flags(tiny_qwen_dir),
            ],
            env=environment(),
            timeout=900,
        )
        assert result.returncode == 0, result.stderr
        batched = "shared model: batched generate" in result.stderr  # logged when the first batch forms
        assert batched == (parallel == "3"), result.stderr
        document = json.loads((out / "results.json").read_text(encoding="utf-8"))
        outcomes[parallel] = [(record["id"], record.get("answer"), record["outcome"]) for record in document["items"]]
    assert len(outcomes["1"]) == 6 and outcomes["3"] == outcomes["1"]
