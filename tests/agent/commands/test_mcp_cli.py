"""``agent mcp`` refusing to start: every bad flag is one line on stderr and exit 2, before anything is served.

Each case is a real ``agent mcp`` process with stdin open (as an MCP client
starts it), so a server that started by mistake would sit waiting and fail
the test by its exit status, not by a clock.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from tests.support.cli import AGENT_COMMAND, REPO
from tests.support.e2e import agent_env

MODEL = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]


def start_mcp(args: list[str], tmp_path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = agent_env(dict(os.environ), **extra_env)
    env.pop("NOT_SET_ANYWHERE", None)
    # stdin is empty and closed at once: a server that did start would read EOF and exit 0.
    return subprocess.run(
        [*AGENT_COMMAND, "mcp", *MODEL, "--out", str(tmp_path / "runs"), *args],
        env=env,
        cwd=REPO,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--allow", "write"], "--allow 'write' is not a policy; use read, act"),
        (["--allow", "act=android:emulator-5554"], "android:emulator-5554 is not a served device (desktop)"),
        (["--device", "phone"], "unknown device 'phone'"),
        (["--device", "android:*"], "name each phone"),
        (["--secret", "NOT_SET_ANYWHERE"], "no value for secret(s) NOT_SET_ANYWHERE"),
        (["--transport", "http", "--host", "0.0.0.0"], "listens on loopback only"),
        (["--timeout", "10 parsecs"], "--timeout"),
        (["--script", "no/such/answers.yaml", "--backend", "scripted"], "--script"),
    ],
)
def test_bad_flags_are_bad_input(args, problem, tmp_path):
    done = start_mcp(args, tmp_path)
    assert done.returncode == 2, done.stderr
    assert problem in done.stderr
    assert done.stdout == ""  # nothing on the protocol's channel
    assert not (tmp_path / "runs").exists()


def test_a_taken_port_is_said_at_once(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = start_mcp(["--transport", "http", "--port", str(port)], tmp_path)
    assert done.returncode == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_a_client_that_closes_stdin_at_once_ends_the_server_cleanly(tmp_path):
    done = start_mcp([], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "serving MCP on stdio" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()  # no call, no run
