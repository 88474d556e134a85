"""Running the real ``agent`` command line as a child process, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import typer

REPO = Path(__file__).resolve().parents[2]

# What the `agent` console script runs, without depending on where pip put the script.
AGENT_COMMAND = (sys.executable, "-c", "from qwen_gui_agent.agent.cli import main; main()")


def run_agent(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AGENT_COMMAND, *args],
        env=dict(env) if env is not None else None,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_on_fake_phone(
    goal: str,
    *flags: str,
    adb_port: int,
    base_url: str,
    out: Path,
    dialect: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``agent run GOAL --device android`` on the adb server at ``adb_port``, asking the OpenAI-compatible
    server at ``base_url`` as "scripted-model", with no settle pause; ``env`` adds to (or overrides) the
    environment, ``flags`` go on the command line."""
    environment = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb_port), "AGENT_API_KEY": "test-key", **(env or {})}
    environment.pop("ANDROID_SERIAL", None)
    args = ["run", goal, "--device", "android", "--backend", "openai", "--base-url", base_url]
    args += ["--model", "scripted-model", "--dialect", dialect, "--settle", "0", *flags, "--out", str(out)]
    return run_agent(args, env=environment, timeout=timeout)


def single_group_app(register: Callable[[typer.Typer], None]) -> typer.Typer:
    """A CLI app holding one command group, as ``agent`` registers it, without the other groups."""
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Typer needs a callback to keep the group's commands as subcommands."""

    register(app)
    return app
