"""Ctrl-C in the middle of an eval: exit 130, what finished is kept, the next run asks only for the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.agent.eval.support import file_order, model_point
from tests.support.cli import AGENT_COMMAND, REPO
from tests.support.make_grounding_set import make_screenspot
from tests.support.model_server import ModelServer, Reply
from tests.support.processes import ctrl_c_as_in_a_terminal

CAP = 1280 * 28 * 28


def test_ctrl_c_keeps_finished_items_and_the_rerun_resumes(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    items = file_order(make_screenspot(data))
    answers = ["({},{})".format(*model_point(item.centre, item.size, CAP, False)) for item in items]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}, "PYTHONPATH": str(REPO)}
    with ModelServer() as server:
        server.push(Reply.answer(answers[0]), Reply.answer(answers[1]), Reply.slow(120, answers[2]))
        args = [
            *AGENT_COMMAND,
            "eval",
            "grounding",
            str(data),
            "--base-url",
            server.base_url,
            "--parallel",
            "1",
            "-o",
            str(out),
            "--request-timeout",
            "300",
        ]
        process = subprocess.Popen(
            args,
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ctrl_c_as_in_a_terminal,
        )
        log = out / "results.jsonl"
        # Until two answers are stored and the third request hangs. A hang guard, not a speed goal: on a
        # busy machine the child's start alone (torch's import) can take minutes, and a Ctrl-C sent
        # before it asks anything tests nothing, so the guard fails the test instead of sending it.
        for _ in range(6000):
            if log.exists() and len(log.read_text(encoding="utf-8").splitlines()) == 2 and len(server.requests) == 3:
                break
            if process.poll() is not None:
                pytest.fail(f"the eval ended before the third request: {process.communicate()[1][-2000:]}")
            time.sleep(0.1)
        else:
            process.kill()
            pytest.fail("the eval never reached its third request")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=600)  # a hang guard
        assert process.returncode == 130, stderr
        assert "run the same command again to resume" in stderr
        assert [json.loads(line)["id"] for line in log.read_text(encoding="utf-8").splitlines()] == [
            item.id for item in items[:2]
        ]

        server.push(*(Reply.answer(answer) for answer in answers[2:]))
        done = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert len(server.requests) == 3 + len(items) - 2  # the first two were never asked again
    summary = json.loads((out / "results.json").read_text(encoding="utf-8"))["summary"]
    assert summary["correct"] == summary["items"] == len(items)
