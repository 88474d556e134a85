"""Recovery demonstrations: ``--policy reference --misses 1`` misses once on purpose, recovers, and the export
learns only the recovery.

Real Chromium, Xvfb and the agent's desktop device: the missed step must really reach the page and
change nothing (the page is still to be solved), the next step must solve it, and ``agent export``
must keep the miss as the history of the later rows, never as an answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qwen_gui_agent.agent.runtime.repetition import NEAR_PIXELS
from tests.agent.eval.miniwob.test_miniwob_e2e import miniwob, needs_the_browser, results
from tests.support.cli import run_agent

pytest.importorskip("miniwob")
pytest.importorskip("selenium")
pytestmark = [pytest.mark.xvfb, pytest.mark.slow]
__all__ = ["needs_the_browser"]  # the module fixture that skips without Xvfb, Chromium and chromedriver

TASKS = ("click-test", "enter-text", "scroll-text-2")
SEEDS = 2


def steps_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text(encoding="utf-8").splitlines()]


def test_the_reference_policy_misses_once_then_wins_and_export_learns_the_recovery(tmp_path: Path) -> None:
    out = tmp_path / "demos"
    code, log = miniwob(
        *TASKS, "--episodes", SEEDS, "--policy", "reference", "--misses", "1", "--zoom", "1", "--out", out
    )
    assert code == 0, log
    episodes = results(out)["episodes"]
    assert len(episodes) == len(TASKS) * SEEDS
    assert all(episode["success"] for episode in episodes), [e["message"] for e in episodes]

    clean = tmp_path / "clean"
    code, log = miniwob(*TASKS, "--episodes", SEEDS, "--policy", "reference", "--zoom", "1", "--out", clean)
    assert code == 0, log
    clean_steps = {episode["id"]: episode["steps"] for episode in results(clean)["episodes"]}

    run_dirs = []
    for episode in episodes:
        run_dir = out / episode["run_dir"]
        run_dirs.append(run_dir)
        steps = steps_of(run_dir)
        # One step more than the clean play of the same seed: the miss changed nothing on the page.
        assert len(steps) == clean_steps[episode["id"]] + 1, episode["id"]
        first, second = steps[0], steps[1]
        assert first["serving"] == {"deliberate_miss": True} and first["error"] is None
        assert first["executed"] and first["executed"][0]["commands"]  # it really went to the screen
        assert "deliberate_miss" not in second["serving"]
        assert first["actions"][0].split("(")[0] == second["actions"][0].split("(")[0]  # the same kind, aimed again
        assert first["actions"][0] != second["actions"][0]
        run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
        assert run["model"]["misses"] == 1

    data = tmp_path / "data"
    exported = run_agent(["export", *map(str, run_dirs), "-o", str(data)], timeout=300)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    missed = [skip for skip in manifest["skipped_steps"] if skip["step"] == 1]
    assert len(missed) == len(episodes) and all("deliberate miss" in skip["reason"] for skip in missed)
    assert not any(source.endswith("/step-1") for source in manifest["row_sources"])
    rows = [json.loads(line) for line in (data / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == sum(len(steps_of(run_dir)) - 1 for run_dir in run_dirs)
    for row, source in zip(rows, manifest["row_sources"], strict=True):
        run_dir = next(run_dir for run_dir in run_dirs if source.startswith(run_dir.name + "/"))
        miss = steps_of(run_dir)[0]["actions"][0]
        prompt = " ".join(message["content"] for message in row["messages"][:-1])
        learnt = row["messages"][-1]
        assert learnt["loss"] is True
        # The miss is history (its point in the prompt), never the answer the model learns.
        coordinates = miss.split("(", 1)[1]
        assert any(part in prompt for part in _points_of(coordinates)), (prompt, miss)
        assert learnt["content"] != steps_of(run_dir)[0]["answer"]


def _points_of(action_arguments: str) -> list[str]:
    """The first point of a canonical action (``click(x=12, y=34)`` or the like) as the dialects write it."""
    import re

    numbers = re.findall(r"-?\d+", action_arguments)[:2]
    x, y = numbers
    return [f"[{x}, {y}]", f"({x},{y})", f"{x}, {y}"]


def test_no_three_near_misses_in_a_row_so_the_loop_guard_lets_the_recovery_run(tmp_path: Path) -> None:
    # enter-text's seed 70012 drew three blank points in a row within a few frame units of each other in
    # the 112x140 frame; the loop guard took them for one click repeated and ended the episode as stuck.
    out = tmp_path / "demos"
    code, log = miniwob(
        "enter-text", "--episodes", "1", "--seed", "70012", "--policy", "reference", "--misses", "3",
        "--zoom", "1", "--max-pixels", "18816", "--dialect", "uitars", "--out", out,
    )  # fmt: skip
    assert code == 0, log
    (episode,) = results(out)["episodes"]
    assert episode["success"], episode["message"]
    steps = steps_of(out / episode["run_dir"])
    misses = [step["actions"][0] for step in steps if step["serving"].get("deliberate_miss")]
    assert len(misses) == 3
    points = [tuple(map(int, re.findall(r"-?\d+", miss)[:2])) for miss in misses]

    def near(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        return max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= NEAR_PIXELS

    assert not (near(points[2], points[1]) and near(points[1], points[0])), points
