"""Starting ``agent mcp`` as a user's MCP client does, and talking to it with the SDK's own client.

stdio: the SDK's ``Client`` launches the command (``StdioServerParameters``) and owns the process.
HTTP: ``HttpAgent`` starts ``agent mcp --transport http --port 0`` and reads the address it prints on
stderr; ``Client(url)`` connects. The model is a scripted one behind a real loopback OpenAI-compatible
server (tests/support/model_server.py), its answers computed from where the booking form's widgets
really are, in the frame the model is sent.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any

from mcp import Client, StdioServerParameters, stdio_client

from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame
from tests.support.booking_app import BookingApp
from tests.support.cli import AGENT_COMMAND, REPO
from tests.support.model_server import RecordedRequest
from tests.support.processes import stop_process

SCREEN = (1280, 800)
MAX_PIXELS = 1280 * 28 * 28
FRAME = ModelFrame.for_screen(*SCREEN, FrameBounds(max_pixels=MAX_PIXELS))  # the image the model (and the client) sees
PASSWORD = "Tr0ub4dor&3-secret"
SERVING = re.compile(r"serving MCP at (http://\S+) ")


def agent_args(base_url: str, out: Path, *extra: str) -> list[str]:
    """``agent mcp`` with the scripted model, a run folder, and the test's own flags."""
    return [
        "mcp",
        "--backend",
        "openai",
        "--base-url",
        base_url,
        "--model",
        "scripted-model",
        "--dialect",
        "qwen",
        "--max-pixels",
        str(MAX_PIXELS),
        "--out",
        str(out),
        "--settle",
        "0.3",
        "--no-failsafe",
        *extra,
    ]


def stdio_parameters(args: Sequence[str], env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=AGENT_COMMAND[0], args=[*AGENT_COMMAND[1:], *args], env=env, cwd=str(REPO))


@asynccontextmanager
async def stdio_agent(args: Sequence[str], env: dict[str, str], errlog: IO[str]) -> AsyncIterator[Client]:
    """A connected client of ``agent mcp`` over stdio; leaving the block closes stdin, and the server exits."""
    async with Client(stdio_client(stdio_parameters(args, env), errlog=errlog)) as client:
        yield client


class HttpAgent:
    """``agent mcp --transport http --port 0`` as a child process; ``url`` is where it listens."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path, timeout: float = 60.0) -> None:
        self.log = log
        self._log_file = log.open("w", encoding="utf-8")
        command = [*AGENT_COMMAND, *args, "--transport", "http", "--port", "0"]
        self.process = subprocess.Popen(
            command, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log_file
        )
        self.url = wait_for_text(log, SERVING, timeout=timeout, process=self.process).group(1)

    def stop(self, timeout: float = 60.0, *, signalled: bool = False) -> int:
        """SIGTERM, as a service manager stops it (unless the test sent it already); the exit status."""
        if not signalled and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log_file.close()
        return code

    def close(self) -> None:
        stop_process(self.process)
        self._log_file.close()


def wait_for_text(
    path: Path, pattern: re.Pattern[str], *, timeout: float, process: subprocess.Popen[Any] | None = None
) -> re.Match[str]:
    """Poll a log file until ``pattern`` appears in it (a safety bound, not a speed check)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        found = pattern.search(text)
        if found:
            return found
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited with {process.returncode} first:\n{text[-3000:]}")
        time.sleep(0.05)
    raise AssertionError(f"{pattern.pattern!r} never appeared in {path}:\n{path.read_text(errors='replace')[-3000:]}")


def grounding(app: BookingApp, widget: str) -> Callable[[RecordedRequest], str]:
    """Qwen2.5-VL's grounding answer for ``widget``: its box in the frame the model was sent."""

    def answer(request: RecordedRequest) -> str:
        box = app.box(widget)
        sx, sy = FRAME.width / SCREEN[0], FRAME.height / SCREEN[1]
        corners = [box["x"] * sx, box["y"] * sy, (box["x"] + box["width"]) * sx, (box["y"] + box["height"]) * sy]
        return json.dumps([{"bbox_2d": [round(value) for value in corners], "label": widget}])

    return answer


def in_frame(point: tuple[int, int]) -> tuple[int, int]:
    """Screen pixels -> pixels of the screenshot image the client gets."""
    return round(point[0] * FRAME.width / SCREEN[0]), round(point[1] * FRAME.height / SCREEN[1])


def texts_of(result: Any) -> str:
    """Every text block of a tool result, joined."""
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


# A user's MCP client in a process of its own, so a test can kill it mid-call as a crash or a closed laptop
# would: it starts a run_task and prints each progress message. argv[1] is a JSON document: the server
# (a URL, or a command line for stdio) and the goal.
CLIENT_SCRIPT = """
import json, sys
import anyio
from mcp import Client, StdioServerParameters

plan = json.loads(sys.argv[1])

async def main():
    server = plan["url"] or StdioServerParameters(command=plan["command"][0], args=plan["command"][1:],
                                                  env=plan["env"], cwd=plan["cwd"])
    async with Client(server) as client:
        async def progress(value, total, message):
            print("progress", message, flush=True)
        result = await client.call_tool("run_task", {"goal": plan["goal"]}, progress_callback=progress)
        print("result", result.structured_content, flush=True)

anyio.run(main)
"""


def start_client(
    tmp_path: Path, *, goal: str, url: str | None = None, args: Sequence[str] = (), env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The client script running against ``url`` (HTTP) or launching ``agent ARGS`` (stdio); output in files.

    Over stdio the server is the client's child and writes its stderr into the client's (client.err).
    """
    plan = {"url": url, "command": [*AGENT_COMMAND, *args], "env": env, "cwd": str(REPO), "goal": goal}
    out = (tmp_path / "client.out").open("wb")
    err = (tmp_path / "client.err").open("wb")
    with out, err:
        return subprocess.Popen(
            [AGENT_COMMAND[0], "-c", CLIENT_SCRIPT, json.dumps(plan)],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
