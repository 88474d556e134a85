"""What the test GUI apps (tk_app, booking_app) share: the app side writes its state as JSON after
every event, the test side runs the app as a child process on a display and polls that JSON.

Reading the app's own state, rather than a screenshot, is what makes the end-to-end tests judge
what the app really received.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from tests.support.processes import stop_process

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------------- app side


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically, so the test never reads half a JSON document."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)


def run_app(
    build: Callable[[tk.Tk, Path], Any],
    *,
    class_name: str,
    title: str,
    description: str,
    default_position: tuple[int, int],
    argv: list[str] | None = None,
) -> None:
    """Parse ``--state --x --y``, build the app in a root window there and run Tk until killed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--x", type=int, default=default_position[0])
    parser.add_argument("--y", type=int, default=default_position[1])
    args = parser.parse_args(argv)
    root = tk.Tk(className=class_name)
    root.title(title)
    root.geometry(f"+{args.x}+{args.y}")  # no window manager under Xvfb: honoured exactly
    app = build(root, args.state)
    root.wait_visibility(root)
    root.after(100, app.mark_ready)
    root.mainloop()


# ----------------------------------------------------------------------------- test side


class AppProcess:
    """A test app running as a child process; ``state()`` reads its latest JSON."""

    module: ClassVar[str]  # the app's module, run with ``python -m``
    label: ClassVar[str]  # how failures name it
    default_position: ClassVar[tuple[int, int]] = (0, 0)

    def __init__(
        self, env: dict[str, str], state_path: Path, x: int | None = None, y: int | None = None, timeout: float = 15.0
    ) -> None:
        self.state_path = state_path
        x = self.default_position[0] if x is None else x
        y = self.default_position[1] if y is None else y
        argv = [sys.executable, "-m", self.module, "--state", str(state_path), "--x", str(x), "--y", str(y)]
        self.process = subprocess.Popen(argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL)
        try:
            self.wait_for(lambda state: state.get("ready"), timeout=timeout, what=f"{self.label} to start")
        except BaseException:
            self.close()
            raise

    def state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def wait_for(
        self, condition: Callable[[dict[str, Any]], object], *, timeout: float = 5.0, what: str = "the app's state"
    ) -> dict[str, Any]:
        """Poll the state until ``condition`` holds; on timeout fail with the last state seen."""
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited with {self.process.returncode}")
            state = self.state()
            if state and condition(state):
                return state
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; last state: {json.dumps(state, ensure_ascii=False)[:2000]}"
        )

    def centre(self, widget: str) -> tuple[int, int]:
        """The root (X screen) coordinates of a widget's centre."""
        box = self.box(widget)
        return box["x"] + box["width"] // 2, box["y"] + box["height"] // 2

    def box(self, widget: str) -> dict[str, int]:
        return self.state()["widgets"][widget]

    def close(self) -> None:
        stop_process(self.process)
