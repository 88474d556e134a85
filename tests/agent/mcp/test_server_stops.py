"""Stopping ``agent mcp`` with SIGTERM (as a service manager, or an MCP client's shutdown, does).

Calls in flight stop at their next step and are recorded as interrupted, the
client gets its answer, every run is finished, and the server exits 0: over
HTTP as over stdio (where the SDK reads stdin on a thread no cancellation
reaches, so the server leaves by itself once its runs are finished).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.mcp.serving import HttpAgent, agent_args, start_client, wait_for_text
from tests.agent.mcp.test_cancel_and_disconnect import GOAL, HeldModel, the_run
from tests.support.cli import AGENT_COMMAND, REPO

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


def test_sigterm_stops_a_task_in_flight_and_records_it(env, app, model, tmp_path):
    held = HeldModel(app, model)
    out = tmp_path / "runs"
    server = HttpAgent(agent_args(model.base_url, out, "--allow", "act"), env, tmp_path / "server.log")
    client = None
    try:
        client = start_client(tmp_path, goal=GOAL, url=server.url, env=env)
        assert held.asked.wait(timeout=120), (tmp_path / "client.err").read_text()
        server.process.send_signal(signal.SIGTERM)
        wait_for_text(server.log, re.compile("stopping: SIGTERM"), timeout=60)
        held.release.set()  # the answer comes after the stop: the step is recorded, nothing more is done
        assert server.stop(signalled=True) == 0
        client.wait(timeout=120)
    finally:
        held.release.set()
        if client is not None:
            client.kill()
        server.close()
    info = the_run(out)
    assert (info.status, info.message) == ("interrupted", "stopped by SIGTERM (the MCP server was stopped)")
    assert app.state()["name"] == ""
    # The client got its answer: the run, and how it ended.
    answer = (tmp_path / "client.out").read_text()
    assert "'status': 'interrupted'" in answer and info.run_id in answer


def test_sigterm_stops_a_stdio_server_and_finishes_its_runs(env, app, model, tmp_path):
    """A client's raw JSON-RPC lines on stdin: a handshake and one screenshot; then SIGTERM with stdin open."""
    out = tmp_path / "runs"
    log = tmp_path / "server.log"
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "screenshot", "arguments": {}}},
    ]
    with log.open("w") as errors:
        server = subprocess.Popen(
            [*AGENT_COMMAND, *agent_args(model.base_url, out)],
            env=env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            assert server.stdin is not None and server.stdout is not None
            server.stdin.write("".join(json.dumps(message) + "\n" for message in messages).encode())
            server.stdin.flush()
            answers = [json.loads(server.stdout.readline()) for _ in range(2)]
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=60) == 0
        finally:
            server.kill()
    shot = answers[1]["result"]["structuredContent"]
    run = load_run(shot["run_dir"])
    assert run.info.status == "success" and [step.kind for step in run.steps] == ["screenshot"]
    assert run.info.message == "1 step recorded from MCP calls; then the server was stopped by SIGTERM"
    assert "Traceback" not in log.read_text()
