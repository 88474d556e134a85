"""A 50 MB answer from the server is cut once, where it enters the run, and the run says so (issue 16, item 5).

The audit's run stored such an answer twice (105 MB in steps.jsonl and in the
report) and sent it back to the model. Here `agent run -v` on Android (the
loopback adb server) gets it over HTTP from the loopback model server.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.adb_server import AdbServer
from tests.support.cli import run_on_fake_phone
from tests.support.model_server import ModelServer

pytestmark = pytest.mark.slow

ANSWER_BYTES = 50 * 1000 * 1000
KEPT = 20_000  # --max-answer-chars


def test_a_50_mb_answer_is_recorded_and_sent_back_cut_and_says_so(tmp_path: Path) -> None:
    runaway = "Thought: " + "la " * ((ANSWER_BYTES - 30) // 3) + "\nAction: wait()"
    with AdbServer() as adb, ModelServer() as model_server:
        model_server.push(runaway, "Thought: done\nAction: finished(content='ok')")
        del runaway
        result = run_on_fake_phone(
            "say something",
            "-v",
            "--max-answer-chars",
            str(KEPT),
            adb_port=adb.port,
            base_url=model_server.base_url,
            out=tmp_path / "runs",
            dialect="uitars",
            timeout=300,
        )
        requests = model_server.requests
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(requests[0].raw) < 1_000_000 and len(requests) == 2

    run_dir = next((tmp_path / "runs").iterdir())
    [cut, done] = load_run(run_dir).steps
    length = ANSWER_BYTES - 30 - (ANSWER_BYTES - 30) % 3 + len("Thought: \nAction: wait()")
    assert cut.answer.endswith(f"[answer cut: {length:,} characters, the first {KEPT:,} kept]")
    assert len(cut.answer) < KEPT + 100
    assert cut.error is not None and cut.error.kind == "parse"  # the model is told, not obeyed on half an answer
    assert done.error is None

    # Every copy is the short one: the record, the report, the console and the next prompt.
    for path in run_dir.rglob("*"):
        assert path.stat().st_size < 1_000_000, path
    assert (run_dir / "report.html").is_file()
    assert len(result.stdout) + len(result.stderr) < 200_000
    assert f"{length:,}" in result.stdout + result.stderr  # the warning says how long it really was
    assert len(requests[1].raw) < 1_000_000
    assert "la " * 1000 in "".join(requests[1].texts())  # the cut answer went back as history
