"""Helpers for the end-to-end runs: an Xvfb display, a scripted model that answers in a dialect, and `agent run`.

The scripted model is a small policy: each request, it reads the booking
app's own state file (where the widgets are, what is filled in) and answers
the next action of a fixed plan, with the point converted into the model's
frame exactly as a real model would have to: pixels of the image it saw (qwen, uitars),
or thousandths of the screen (qwen3, Qwen3-VL's 0..999).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from qwen_gui_agent.tools.canonical import quote
from qwen_gui_agent.tools.frames import ModelFrame
from tests.support.booking_app import BookingApp
from tests.support.cli import AGENT_COMMAND
from tests.support.model_server import RecordedRequest
from tests.support.xvfb import XvfbServer, XvfbUnavailable, start_xvfb_server

REPO = Path(__file__).resolve().parents[2]


def xvfb_or_skip(width: int, height: int) -> Iterator[XvfbServer]:
    """The body of a module's ``display`` fixture: a fresh Xvfb, closed after; its tests skip without Xvfb."""
    try:
        server = start_xvfb_server(width, height)
    except XvfbUnavailable as error:
        pytest.skip(str(error))
    try:
        yield server
    finally:
        server.close()


@dataclass(frozen=True)
class Move:
    """One answer of the scripted model, dialect-neutral."""

    kind: str  # click | type | scroll | finished | call_user | raw
    point: tuple[int, int] | None = None  # screen pixels; converted to the frame when rendered
    text: str = ""
    thought: str = "next step"


def to_frame(point: tuple[int, int], frame: ModelFrame, screen: tuple[int, int]) -> tuple[int, int]:
    """Screen pixels -> the model frame (what the model must answer to hit ``point``): pixels of the image,
    or thousandths (of 999 for Qwen3-VL) for a relative frame."""
    x, y = point
    extent_x, extent_y = frame.extent
    return round(x * extent_x / screen[0]), round(y * extent_y / screen[1])


def render(move: Move, dialect: str, frame: ModelFrame, screen: tuple[int, int]) -> str:
    if move.kind == "raw":
        return move.text
    point = to_frame(move.point, frame, screen) if move.point else None
    if dialect in ("qwen", "qwen3"):
        arguments: dict[str, Any] = {
            "click": lambda: {"action": "left_click", "coordinate": list(point)},
            "type": lambda: {"action": "type", "text": move.text},
            "scroll": lambda: {"action": "scroll", "coordinate": list(point), "pixels": -5},
            "finished": lambda: {"action": "terminate", "status": "success"},
        }[move.kind]()
        call = json.dumps({"name": "computer_use", "arguments": arguments}, ensure_ascii=False)
        # Qwen3-VL answers as its agentic prompts ask: a thought, the action in words, then the call.
        prose = f"Thought: {move.thought}\nAction: {move.thought}." if dialect == "qwen3" else move.thought
        return f"{prose}\n<tool_call>\n{call}\n</tool_call>"
    action = {
        "click": lambda: f"click(start_box='({point[0]},{point[1]})')",
        "type": lambda: f"type(content={quote(move.text)})",
        "scroll": lambda: f"scroll(start_box='({point[0]},{point[1]})', direction='down')",
        "finished": lambda: f"finished(content={quote(move.text)})",
        "call_user": lambda: f"call_user(content={quote(move.text)})",
    }[move.kind]()
    return f"Thought: {move.thought}\nAction: {action}"


Plan = Sequence[Callable[[dict[str, Any]], Move | None]]


@dataclass
class ScriptedModel:
    """Answers each request with the first step of ``plan`` not yet done (a step may repeat: return None to move on)."""

    app: BookingApp
    dialect: str
    frame: ModelFrame
    plan: Plan
    position: int = 0
    answers: list[str] = field(default_factory=list)

    def __call__(self, request: RecordedRequest) -> str:
        state = self.app.state()
        screen = tuple(state["screen"])
        while self.position < len(self.plan):
            move = self.plan[self.position](state)
            if move is not None:
                break
            self.position += 1
        else:
            move = Move("finished", text="nothing left to do")
        answer = render(move, self.dialect, self.frame, screen)
        self.answers.append(answer)
        return answer


def once(make: Callable[[dict[str, Any]], Move]) -> Callable[[dict[str, Any]], Move | None]:
    """A plan step answered one time."""
    done = []

    def step(state: dict[str, Any]) -> Move | None:
        if done:
            return None
        done.append(True)
        return make(state)

    return step


def until(condition: Callable[[dict[str, Any]], bool], make: Callable[[dict[str, Any]], Move]):
    """A plan step answered again and again until the app's state meets ``condition``."""

    def step(state: dict[str, Any]) -> Move | None:
        return None if condition(state) else make(state)

    return step


def centre(state: dict[str, Any], widget: str) -> tuple[int, int]:
    box = state["rows"][widget[4:]] if widget.startswith("row:") else state["widgets"][widget]
    return box["x"] + box["width"] // 2, box["y"] + box["height"] // 2


def booking_plan(name: str, password_text: str, city: str) -> Plan:
    """The moves that fill in and confirm the booking form."""
    return [
        once(lambda s: Move("click", centre(s, "name"), thought="click the Name field")),
        once(lambda s: Move("type", text=name, thought="type the traveller's name")),
        once(lambda s: Move("click", centre(s, "password"), thought="click the Password field")),
        once(lambda s: Move("type", text=password_text, thought="type the password")),
        once(lambda s: Move("click", centre(s, f"row:{city}"), thought=f"choose {city}")),
        until(lambda s: s["terms_read"], lambda s: Move("scroll", centre(s, "terms"), thought="read the terms")),
        once(lambda s: Move("click", centre(s, "confirm"), thought="confirm the booking")),
        once(lambda s: Move("finished", text="booked", thought="the booking is confirmed")),
    ]


def agent_command() -> list[str]:
    """The installed `agent` entry point (what users type), or the same CLI through this interpreter."""
    installed = shutil.which("agent")
    if installed and Path(installed).parent == Path(sys.executable).parent:
        return [installed]
    return list(AGENT_COMMAND)


def run_agent(
    args: Sequence[str],
    env: dict[str, str],
    *,
    timeout: float = 120,
    stdin: int | None = subprocess.DEVNULL,
    cwd: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), "run", *args],
        env=env,
        cwd=cwd,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_agent(args: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*agent_command(), "run", *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def only_run_dir(out: Path) -> Path:
    (run_dir,) = [path for path in out.iterdir() if path.is_dir()]
    return run_dir


def agent_env(display_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {key: value for key, value in display_env.items() if not key.startswith("AGENT_")}
    env.update(PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""), **extra)
    return env
