"""``agent eval miniwob`` refuses what it cannot run before it starts anything: exit 2 and one line with the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result

from tests.agent.eval.support import agent_eval

pytest.importorskip("miniwob")


def error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1, result.output
    return lines[0]


def test_an_unknown_task_names_the_close_ones(tmp_path: Path) -> None:
    line = error_line(agent_eval("miniwob", "click-tset", "--out", tmp_path))
    assert "unknown MiniWoB++ task 'click-tset'" in line and "click-test" in line
    assert not (tmp_path / "results.jsonl").exists()


def test_the_reference_policy_plays_only_its_own_tasks(tmp_path: Path) -> None:
    line = error_line(agent_eval("miniwob", "chase-circle", "--policy", "reference", "--out", tmp_path))
    assert "no solver for 'chase-circle'" in line


def test_the_reference_policy_takes_no_backend(tmp_path: Path) -> None:
    line = error_line(agent_eval("miniwob", "--policy", "reference", "--base-url", "http://127.0.0.1:9/v1"))
    assert "drop --base-url" in line


def test_a_missing_browser_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIWOB_CHROME_BINARY", str(tmp_path / "no-chromium"))
    line = error_line(agent_eval("miniwob", "click-test", "--policy", "selenium", "--out", tmp_path / "out"))
    assert "MINIWOB_CHROME_BINARY" in line and "apt-get install chromium chromium-driver" in line


def test_bad_displays_and_views_are_refused(tmp_path: Path) -> None:
    assert "give 'auto' or X displays" in error_line(
        agent_eval("miniwob", "--policy", "selenium", "--displays", "91", "--out", tmp_path)
    )
    assert "zoom 9 is outside" in error_line(
        agent_eval("miniwob", "--policy", "selenium", "--zoom", "9", "--out", tmp_path)
    )


def test_results_of_other_settings_are_not_mixed_in(tmp_path: Path) -> None:
    (tmp_path / "eval.json").write_text(json.dumps({"kind": "miniwob", "policy": "selenium", "view": {"zoom": 2}}))
    line = error_line(agent_eval("miniwob", "click-test", "--policy", "selenium", "--out", tmp_path))
    assert "holds results made with other settings" in line and "--fresh" in line


def test_misses_belong_to_the_reference_policy(tmp_path: Path) -> None:
    line = error_line(agent_eval("miniwob", "click-test", "--policy", "selenium", "--misses", "1", "--out", tmp_path))
    assert "--misses is the reference policy's" in line and "--policy reference" in line
