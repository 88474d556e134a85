"""choose-list's reference chooses the wanted item in every episode, also where the closed list already shows it.

Real Chromium, Xvfb and the agent's desktop device. Held-out seed 100009 draws the first option as the
wanted one, so the closed list shows it from the start; seed 100000 does not. A reference that skipped to
Submit on the first would teach two procedures that only the word drawn in the closed list tells apart
(docs/finetune.md, "choose-list's one procedure"); both seeds must be played by the same procedure and won.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.eval.miniwob.test_miniwob_e2e import miniwob, needs_the_browser, results
from tests.agent.eval.miniwob.test_recovery_demos import steps_of

pytest.importorskip("miniwob")
pytest.importorskip("selenium")
pytestmark = [pytest.mark.xvfb, pytest.mark.slow]
__all__ = ["needs_the_browser"]  # the module fixture that skips without Xvfb, Chromium and chromedriver

SHOWN_FROM_THE_START = 100009  # the wanted item is the list's first option
NOT_SHOWN = 100000


@pytest.mark.parametrize("seed", [SHOWN_FROM_THE_START, NOT_SHOWN])
def test_the_reference_opens_types_confirms_and_submits_whatever_the_list_shows(tmp_path: Path, seed: int) -> None:
    out = tmp_path / "demos"
    code, log = miniwob(
        "choose-list", "--seed", str(seed), "--episodes", "1", "--policy", "reference", "--zoom", "1", "--out", out
    )
    assert code == 0, log
    (episode,) = results(out)["episodes"]
    assert episode["success"], episode["message"]
    steps = steps_of(out / episode["run_dir"])
    kinds = [step["actions"][0].split("(")[0] for step in steps]
    # Open, type, confirm (again where the typing picked another item: seed 100000 needs it twice), then Submit.
    tries = (len(kinds) - 1) // 3
    assert tries >= 1 and kinds == ["click", "type", "hotkey"] * tries + ["click"], kinds
    typed = steps[1]["actions"][0]
    assert typed.startswith("type(content=") and typed[len("type(content=") :].strip("')\"")  # the word, not empty
