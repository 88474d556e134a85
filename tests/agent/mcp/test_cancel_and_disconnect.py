"""A ``run_task`` that its client cancels, or whose client goes away, ends as an interrupted run.

The model's answer to the first step is held back until the server has seen
the client leave (its log says so), so the test knows the call was in flight
when it happened: the run then records that step (with the answer that came
too late, never acted on) and ends ``interrupted``.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import anyio
import pytest

from qwen_gui_agent.agent.records.run_files import RunInfo, load_run
from tests.agent.mcp.serving import FRAME, HttpAgent, agent_args, start_client, stdio_agent, wait_for_text
from tests.support.booking_app import BookingApp
from tests.support.e2e import ScriptedModel, booking_plan
from tests.support.model_server import ModelServer, RecordedRequest

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

GOAL = "Book a flight to Shanghai for Li Lei"
STOPPED = re.compile(r"run_task stopped by the MCP client")
CLIENT_LEFT = "stopped by the MCP client (it cancelled the call or went away)"


class HeldModel:
    """The booking plan's answers, each held until ``release``; ``asked`` says a request is waiting."""

    def __init__(self, app: BookingApp, server: ModelServer) -> None:
        self.scripted = ScriptedModel(app, "qwen", FRAME, booking_plan("Li Lei", "secret", "Shanghai"))
        self.asked = threading.Event()
        self.release = threading.Event()
        server.push(*[self.answer] * 30)

    def answer(self, request: RecordedRequest) -> str:
        self.asked.set()
        self.release.wait(timeout=600)  # a safety bound: the test releases it
        return self.scripted(request)


def the_run(out: Path, timeout: float = 120.0) -> RunInfo:
    """The one run under ``out``, once it has ended (run.json no longer says running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [path for path in out.iterdir() if path.is_dir()] if out.exists() else []
        if len(runs) == 1 and (info := load_run(runs[0]).info).status != "running":
            return info
        time.sleep(0.1)
    raise AssertionError(f"no finished run under {out}")


def assert_interrupted_at_the_first_step(out: Path, app: BookingApp) -> None:
    info = the_run(out)
    run = load_run(out / info.run_id)
    assert (info.status, info.message) == ("interrupted", CLIENT_LEFT)
    assert len(run.steps) == 1 and run.steps[0].note == "interrupted"
    assert run.steps[0].answer  # the answer that came after the client left is recorded ...
    assert run.steps[0].executed == [] and app.state()["name"] == ""  # ... and never acted on


def test_a_stdio_client_that_goes_away_leaves_an_interrupted_run(env, app, model, tmp_path):
    held = HeldModel(app, model)
    out = tmp_path / "runs"
    client = start_client(tmp_path, goal=GOAL, args=agent_args(model.base_url, out, "--allow", "act"), env=env)
    log = tmp_path / "client.err"  # the server is the client's child: its stderr lands here
    try:
        assert held.asked.wait(timeout=120), log.read_text()
        client.kill()  # the client crashes: the server's stdin closes under it
        client.wait()
        wait_for_text(log, STOPPED, timeout=120)
        held.release.set()
        assert_interrupted_at_the_first_step(out, app)
        server_pid = int(wait_for_text(log, re.compile(r"serving MCP on stdio \(pid (\d+)\)"), timeout=5).group(1))
        wait_until_gone(server_pid)  # and the server, its client gone, has exited by itself ...
        assert "Traceback" not in log.read_text()  # ... cleanly
    finally:
        held.release.set()
        client.kill()


def test_an_http_client_that_goes_away_leaves_an_interrupted_run(env, app, model, tmp_path):
    held = HeldModel(app, model)
    out = tmp_path / "runs"
    server = HttpAgent(agent_args(model.base_url, out, "--allow", "act"), env, tmp_path / "server.log")
    client = None
    try:
        client = start_client(tmp_path, goal=GOAL, url=server.url, env=env)
        assert held.asked.wait(timeout=120), (tmp_path / "client.err").read_text()
        client.kill()  # the connection drops mid-call
        client.wait()
        wait_for_text(server.log, STOPPED, timeout=120)
        held.release.set()
        assert_interrupted_at_the_first_step(out, app)
        assert server.stop() == 0  # still serving until told to stop
    finally:
        held.release.set()
        if client is not None:
            client.kill()
        server.close()


@pytest.mark.anyio
async def test_a_cancelled_call_ends_its_run_and_the_server_goes_on(env, app, model, tmp_path):
    held = HeldModel(app, model)
    out = tmp_path / "runs"
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        async with stdio_agent(agent_args(model.base_url, out, "--allow", "act"), env, log) as client:
            async with anyio.create_task_group() as group:
                group.start_soon(client.call_tool, "run_task", {"goal": GOAL})
                await anyio.to_thread.run_sync(held.asked.wait, 120)
                group.cancel_scope.cancel()  # the SDK client sends notifications/cancelled
            await anyio.to_thread.run_sync(lambda: wait_for_text(log_path, STOPPED, timeout=120))
            held.release.set()
            await anyio.to_thread.run_sync(assert_interrupted_at_the_first_step, out, app)
            shot = await client.call_tool("screenshot", {})
    assert not shot.is_error  # the server goes on after a cancelled call


def wait_until_gone(pid: int, timeout: float = 60.0) -> None:
    """Until the process has exited (gone from /proc, or a zombie nobody has reaped yet)."""
    deadline = time.monotonic() + timeout
    status = Path(f"/proc/{pid}/status")
    while time.monotonic() < deadline:
        try:
            state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
        except FileNotFoundError:
            return
        if "Z" in state.split()[1]:
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} is still running")
