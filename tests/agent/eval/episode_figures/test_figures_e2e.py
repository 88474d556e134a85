"""Step figures on real MiniWoB++ episodes (Xvfb, Chromium, the agent's desktop device).

The reference policy's own episodes, set beside its trajectory on the same seeds, must score every
step as parsed, of the right kind and on target; a scripted policy that clicks the page's corner
parses and picks the right kind (a click) but hits nothing, and its chance is the targets' share.
A model that leaves the reference's path is judged by what the reference would do on its own pages
(the labels the eval takes), and by step index only where asked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.episode_figures.figures import FiguresError, task_figures
from qwen_gui_agent.agent.eval.episode_figures.targets import TargetsFile
from tests.agent.eval.episode_figures.conftest import FIRST_SEED, SEEDS, TASKS

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


def corner_clicks(folder: Path, count: int) -> Path:
    """A script of ``count`` qwen answers that click the page's corner (nothing there to hit)."""
    corner = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1, 1]}}\n'
        "</tool_call>"
    )
    script = folder / "corner.json"
    script.write_text(json.dumps([corner] * count), encoding="utf-8")
    return script


def test_the_reference_trajectory_holds_each_move_and_its_target(targets: TargetsFile) -> None:
    for seed in range(FIRST_SEED, FIRST_SEED + SEEDS):
        click_test, enter_text = targets.get("click-test", seed), targets.get("enter-text", seed)
        assert click_test is not None and enter_text is not None
        assert [step.kind for step in click_test.steps] == ["click"] and click_test.raw_reward == 1.0
        assert [step.kind for step in enter_text.steps] == ["click", "type", "click"]
        assert [len(step.targets) for step in enter_text.steps] == [1, 0, 1]
        button = click_test.steps[0].targets[0]
        assert 0.0 < button.area < 0.5  # click-test's button: 35..100 CSS px square in 160x210


def test_the_reference_policy_scores_every_step(
    targets: TargetsFile, miniwob: Callable[..., None], tmp_path: Path
) -> None:
    out = tmp_path / "reference"
    miniwob("--policy", "reference", "--dialect", "qwen", "--out", out)
    figures = {row.task: row for row in task_figures(out, targets, TASKS)}
    assert figures["click-test"].pointing == SEEDS and figures["enter-text"].pointing == 2 * SEEDS
    for row in figures.values():
        assert row.episodes == SEEDS and row.missing_targets == 0
        assert row.parse_rate == row.kind_rate == row.hit_rate == row.success_rate == 1.0, row
        assert 0.0 < row.chance < 0.5


def test_clicks_in_the_corner_parse_and_are_clicks_but_hit_nothing(
    targets: TargetsFile, miniwob: Callable[..., None], tmp_path: Path
) -> None:
    script = corner_clicks(tmp_path, 1)
    out = tmp_path / "corner"
    miniwob("--backend", "scripted", "--script", script, "--dialect", "qwen", "--max-steps", "1", "--out", out)
    for row in task_figures(out, targets, TASKS):
        assert (row.steps, row.parsed, row.compared, row.right_kind, row.pointing) == (SEEDS,) * 5, row
        assert row.hits == 0 and row.success_rate == 0.0 and row.chance > 0.0


def test_a_model_off_the_reference_path_is_judged_on_its_own_pages(
    targets: TargetsFile, miniwob: Callable[..., None], tmp_path: Path
) -> None:
    # Three clicks in the corner: the page never changes, so on every page the reference would click its
    # target again (enter-text: the field, never typing, since the field never gets the focus).
    script = corner_clicks(tmp_path, 3)
    out = tmp_path / "corner"
    miniwob("--backend", "scripted", "--script", script, "--dialect", "qwen", "--max-steps", "3", "--out", out)
    on_page = {row.task: row for row in task_figures(out, targets, TASKS)}
    by_index = {row.task: row for row in task_figures(out, targets, TASKS, on_page=False)}
    for task in TASKS:
        row = on_page[task]
        assert row.on_page == SEEDS and row.steps == 3 * SEEDS, row
        assert row.compared == row.right_kind == row.pointing == 3 * SEEDS and row.hits == 0, row
        assert row.wrong_kinds == {} and by_index[task].on_page == 0
    # The reference's own play: click-test ends after one click; enter-text clicks, types, clicks.
    assert by_index["click-test"].compared == SEEDS
    assert (by_index["enter-text"].compared, by_index["enter-text"].right_kind) == (3 * SEEDS, 2 * SEEDS)
    assert by_index["enter-text"].wrong_kinds == {"type → click": SEEDS}  # a click where the reference typed
    # ... once in each episode: every seed is named
    assert by_index["enter-text"].wrong_kind_seeds == {"type → click": list(range(FIRST_SEED, FIRST_SEED + SEEDS))}
    labels = json.loads(next((out / "runs" / "enter-text").glob("*/reference_labels.json")).read_text())["labels"]
    assert [label["kind"] for label in labels] == ["click"] * 3 and not any(label["stateful"] for label in labels)


def test_an_answer_that_does_not_parse_is_counted_at_its_step(
    targets: TargetsFile, miniwob: Callable[..., None], tmp_path: Path
) -> None:
    # A corner click, an answer that is no action (fed back to the model, the episode goes on), a corner click.
    script = corner_clicks(tmp_path, 3)
    answers = json.loads(script.read_text(encoding="utf-8"))
    answers[1] = "I am not sure what to do here."
    script.write_text(json.dumps(answers), encoding="utf-8")
    out = tmp_path / "garbled"
    miniwob("--backend", "scripted", "--script", script, "--dialect", "qwen", "--max-steps", "3", "--out", out)
    for row in task_figures(out, targets, TASKS):
        assert row.steps_by_index == (SEEDS, SEEDS, SEEDS), row
        assert row.parsed_by_index == (SEEDS, 0, SEEDS) and row.parsed == 2 * SEEDS, row
        assert row.wrong_kinds == {"click → unparsed": SEEDS}, row
        assert row.wrong_kind_seeds == {"click → unparsed": list(range(FIRST_SEED, FIRST_SEED + SEEDS))}, row


def test_a_folder_without_results_says_what_to_run(targets: TargetsFile, tmp_path: Path) -> None:
    with pytest.raises(FiguresError, match="agent eval miniwob --out"):
        task_figures(tmp_path, targets)
