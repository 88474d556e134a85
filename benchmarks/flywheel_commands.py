"""How benchmarks/flywheel.py runs its tools: ``agent`` and ``swift`` as child processes, each with its log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.flywheel_settings import Settings

REPO = Path(__file__).resolve().parents[1]
# Stages import what they use: a GPU machine that only trains needs ms-swift, not the agent's dependencies.
AGENT = (sys.executable, "-c", "from qwen_gui_agent.agent.cli import main; main()")
SWIFT = (sys.executable, "-c", "from swift.cli.main import cli_main; cli_main()")  # `swift`, wherever pip put it


def environment(settings: Settings) -> dict[str, str]:
    # One thread each: on a shared CPU, torch's thread pool spinning against other processes is far slower.
    # The repository first, then whatever the caller's PYTHONPATH holds (a GPU machine's carried packages).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if settings.torch_device == "cpu":
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    return env


def run_logged(
    command: Sequence[str], settings: Settings, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"  $ {shown(command)}", flush=True)
    with open(log, "w") as output:
        done = subprocess.run(
            list(command),
            env=env or environment(settings),
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"failed (exit {done.returncode}); see {log}")


def shown(command: Sequence[str]) -> str:
    """The command as a user types it (``agent ...``, ``swift ...``), long lists of runs cut short."""
    for prefix, name in ((AGENT, "agent"), (SWIFT, "swift")):
        if tuple(command[: len(prefix)]) == prefix:
            command = [name, *command[len(prefix) :]]
    parts = [str(part) for part in command]
    runs = [part for part in parts if "/runs/" in part]
    if len(runs) > 3:
        first = parts.index(runs[0])
        parts[first : first + len(runs)] = [runs[0], f"... ({len(runs)} runs)"]
    return " ".join(parts)
