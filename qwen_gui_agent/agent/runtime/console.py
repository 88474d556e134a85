"""What the person running the agent sees, and how the agent asks them things.

The loop reports progress as named events with JSON-able data. Two sinks:
``RichEvents`` (agent.runtime.progress: live progress for a person; ``-v`` adds
driver commands) and ``JsonEvents`` (here: one JSON object per line on stdout,
for scripts). Events are redacted of secrets before any sink sees them (the
session does that), so sinks never need to know about secrets.

``UserChannel`` asks the person a question or a confirmation; without a
terminal it says so and the loop decides (a ``call_user`` ends the run as
``needs_user``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Literal, Protocol

from rich.console import Console
from rich.markup import escape


class EventSink(Protocol):
    def emit(self, event: str, data: dict[str, Any]) -> None: ...


def plural(count: int, noun: str) -> str:
    """``1 step``, ``2 steps``: a count with its noun (regular plurals only)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


class JsonEvents:
    """One JSON object per line: ``{"event": ..., "time": ..., ...data}``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout

    def emit(self, event: str, data: dict[str, Any]) -> None:
        line = json.dumps({"event": event, "time": round(time.time(), 3), **data}, ensure_ascii=False, default=str)
        self.stream.write(line + "\n")
        self.stream.flush()


Decision = Literal["yes", "no", "edit", "quit"]


@dataclass(frozen=True)
class Confirmation:
    decision: Decision
    edited: str = ""  # the action text the person typed, for "edit"


CONFIRM_CHOICES = "[y]es/[n]o/[e]dit/[q]uit"


class UserChannel:
    """Questions to the person at the terminal (prompts go to stderr, so stdout stays machine-readable).

    Each --confirm decision is also an event (``confirmation``: action, decision) on ``events`` if
    given, so the console can show a declined action as not run. The action text is the one shown
    at the prompt, placeholders and all: it never holds a secret's value.
    """

    def __init__(
        self, *, stdin: IO[str] | None = None, console: Console | None = None, events: EventSink | None = None
    ) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin
        self.console = console if console is not None else Console(stderr=True, highlight=False)
        self.events = events

    @property
    def interactive(self) -> bool:
        isatty = getattr(self.stdin, "isatty", None)
        return bool(isatty and isatty())

    def _read(self, prompt: str) -> str:
        self.console.print(prompt, end="")
        line = self.stdin.readline()
        if not line:
            raise EOFError("the terminal closed")
        return line.rstrip("\n")

    def ask(self, question: str) -> str:
        return self._read(f"[bold magenta]{escape(question)}[/]\n[bold]your answer>[/] ")

    def confirm(self, action_text: str) -> Confirmation:
        confirmation = self._decide(action_text)
        if self.events is not None:
            self.events.emit("confirmation", {"action": action_text, "decision": confirmation.decision})
        return confirmation

    def _decide(self, action_text: str) -> Confirmation:
        while True:
            # escape(): rich would read "[y]" and the like as style tags and swallow them.
            reply = self._read(f"run [bold]{escape(action_text)}[/]? {escape(CONFIRM_CHOICES)}: ").strip().lower()
            if reply in ("y", "yes", ""):
                return Confirmation("yes")
            if reply in ("n", "no"):
                return Confirmation("no")
            if reply in ("q", "quit"):
                return Confirmation("quit")
            if reply in ("e", "edit"):
                return Confirmation("edit", self._read("action (canonical text, same frame)> ").strip())
