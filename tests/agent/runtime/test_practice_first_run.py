"""The README's first run: `python3 examples/practice/first_run.py` signs up in the practice app and replays clean.

The real script, as a new user runs it: its own Xvfb display, the real Tk practice app started by the task's
`launch:` step, the scripted answers, `agent run` and `agent replay --check` as child processes. The app's
own state (written where PRACTICE_APP_STATE says) shows what it really received.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


def test_the_first_run_signs_up_reports_and_replays_clean(tmp_path: Path) -> None:
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    state = tmp_path / "app.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_") and key != "DISPLAY"}
    env.update(PRACTICE_APP_STATE=str(state), PYTHONPATH=str(REPO), XAUTHORITY=str(tmp_path / "no-cookies"))
    result = subprocess.run(
        [sys.executable, "examples/practice/first_run.py", "--out", str(tmp_path / "runs")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    app = json.loads(state.read_text(encoding="utf-8"))
    assert (app["name"], app["subscribed"], app["signed_up"]) == ("Ada Lovelace", True, "Ada Lovelace")
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "success" and info["steps"] == 8
    assert (run / "report.html").is_file() and len(list(run.glob("step-*.png"))) == 8
    assert "8 step(s) replayed" in result.stdout and "all steps match" in result.stdout
    assert f"its report: {run / 'report.html'}" in result.stdout
    assert "Xlib.xauth" not in result.stdout + result.stderr  # python-xlib's chatter stays out of the console
    # The script answered: no model or server of the flags' defaults is named anywhere.
    report = (run / "report.html").read_text(encoding="utf-8")
    for text in (result.stdout, json.dumps(info["model"]), report):
        assert "Qwen2.5-VL" not in text and ":8000/v1" not in text
    assert "model scripted: examples/practice/answers.yaml" in result.stdout
    assert info["model"]["kind"] == "scripted" and info["model"]["script"] == "examples/practice/answers.yaml"


def test_without_xvfb_or_a_display_it_says_what_to_install(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DISPLAY"}
    env.update(PATH=str(tmp_path), PYTHONPATH=str(REPO))  # no Xvfb on this PATH
    result = subprocess.run(
        [sys.executable, "examples/practice/first_run.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Xvfb is not installed" in result.stderr and "apt-get install xvfb" in result.stderr
    here = subprocess.run(
        [sys.executable, "examples/practice/first_run.py", "--here"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert here.returncode == 2 and "DISPLAY is not set" in here.stderr
