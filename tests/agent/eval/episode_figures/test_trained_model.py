"""The model the fine-tuning loop trained plays MiniWoB++ through the agent: its answers parse and act.

``tests/support/trained_small_qwen`` is the flywheel's trained model (``python3 benchmarks/flywheel.py
--out work/flywheel --keep-model tests/support/trained_small_qwen``): a 2.4 M-parameter Qwen2.5-VL
trained from random weights only on rows ``agent export`` wrote from the reference policy's runs
(docs/finetune.md, "The loop, measured"). Here it runs through the local backend on held-out seeds it
never saw, end to end: screenshot, prompt, generate, parse, map, act on Chromium.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.episode_figures.figures import task_figures
from qwen_gui_agent.agent.eval.episode_figures.targets import TargetsFile
from tests.agent.eval.episode_figures.conftest import SEEDS, TASKS
from tests.support.cli import REPO

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

TRAINED = REPO / "tests" / "support" / "trained_small_qwen"


def test_the_trained_model_answers_parse_and_are_the_right_kind(
    targets: TargetsFile, miniwob: Callable[..., None], tmp_path: Path
) -> None:
    pytest.importorskip("transformers")
    out = tmp_path / "trained"
    model = ("--backend", "local", "--model", TRAINED, "--torch-device", "cpu", "--dialect", "qwen")
    miniwob(*model, "--max-steps", "3", "--out", out)
    # By step index: the order of kinds the demonstrations taught. On its own pages the reference would fix
    # the name the model typed (it types one it saw in training) instead of clicking Submit.
    figures = {row.task: row for row in task_figures(out, targets, TASKS, on_page=False)}
    for row in figures.values():
        assert row.episodes == SEEDS and row.steps >= SEEDS, row
        assert row.parsed == row.steps, row  # every answer is an action the agent ran
        assert row.right_kind == row.compared > 0, row  # click, type, click in enter-text's order
    # The step the random model cannot take: enter-text's typing, of the seed's own word.
    assert figures["enter-text"].compared >= 2 * SEEDS, figures["enter-text"]
