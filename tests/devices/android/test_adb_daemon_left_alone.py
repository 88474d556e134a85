"""`agent run --device android:SERIAL` stops the adb server it had to start, and leaves a running one alone."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.support.adb_daemon import listening, write_fake_adb
from tests.support.adb_server import AdbServer
from tests.support.cli import AGENT_COMMAND, REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def agent_run_on_the_phone(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    (tmp_path / "task.yaml").write_text("name: look\nsteps: [{wait: 0.1}]\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
    env.update(PYTHONPATH=str(REPO), ADBUTILS_ADB_PATH=str(write_fake_adb(tmp_path)), ANDROID_ADB_SERVER_PORT=str(port))
    return subprocess.run(
        [
            *AGENT_COMMAND,
            "run",
            "task.yaml",
            "--device",
            "android:emulator-5554",
            "--adb-port",
            str(port),
            "--settle",
            "0",
            "--out",
            str(tmp_path / "runs"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_adb_server_the_run_started_is_stopped_at_its_end(tmp_path: Path) -> None:
    port = free_port()
    try:
        done = agent_run_on_the_phone(tmp_path, port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not listening(port), "the adb daemon the run started is still running"
    finally:
        if listening(port):  # leave no daemon behind, whatever the outcome
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"0009host:kill")


def test_an_adb_server_that_was_running_is_left_running(tmp_path: Path) -> None:
    with AdbServer() as server:
        done = agent_run_on_the_phone(tmp_path, server.port)
        assert done.returncode == 0, done.stdout + done.stderr
        assert not server.killed.is_set() and listening(server.port)
