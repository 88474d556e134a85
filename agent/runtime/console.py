"""What the person running the agent sees, and how the agent asks them things.

The loop reports progress as named events with JSON-able data. Two sinks:
``RichEvents`` (human lines on the console; ``-v`` adds thoughts and driver
commands) and ``JsonEvents`` (one JSON object per line on stdout, for
scripts). Events are redacted of secrets before any sink sees them (the
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


def _timings(timings: dict[str, float]) -> str:
    shown = [f"{name} {ms:.0f} ms" for name, ms in timings.items() if name != "total"]
    if "total" in timings:
        shown.append(f"total {timings['total']:.0f} ms")
    return " · ".join(shown)


class RichEvents:
    """Progress lines for a person: step n/max, the action, time per phase."""

    def __init__(self, console: Console | None = None, *, verbose: int = 0) -> None:
        self.console = console if console is not None else Console(highlight=False)
        self.verbose = verbose
        # Actions the person declined at --confirm; the next step line says they were not run.
        self._declined: list[str] = []

    def emit(self, event: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(data)

    def _print(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)

    def _on_run_started(self, data: dict[str, Any]) -> None:
        self._print(f"[bold]task[/] {escape(data['task'])}")
        self._print(
            f"[dim]device {escape(str(data.get('device', '')))} · dialect {escape(str(data.get('dialect', '')))}"
            f" · model {escape(str(data.get('model', '')))} · run {escape(str(data.get('run_dir', '')))}[/]"
        )

    def _on_task_step(self, data: dict[str, Any]) -> None:
        self._print(f"[bold cyan]▶ {escape(data['kind'])}[/] {escape(data['text'])}")

    def _on_step(self, data: dict[str, Any]) -> None:
        # The run's step number; an ai step also shows where it is in its own goal's budget.
        budget = data.get("goal_step"), data.get("max_steps")
        limit = f" (goal {budget[0]}/{budget[1]})" if all(budget) else ""
        actions = "; ".join(data.get("actions", [])) or "(no action)"
        mark = " [yellow](dry run)[/]" if data.get("dry_run") else ""
        if self._declined:
            mark += " [yellow](declined, not run)[/]"
            self._declined.clear()
        self._print(f"[bold]step {data['index']}{limit}[/] {escape(actions)}{mark}")
        self._print(f"    [dim]{escape(_timings(data.get('timings_ms', {})))}[/]")
        if self.verbose and data.get("thought"):
            self._print(f"    [italic]{escape(data['thought'])}[/]")
        if self.verbose or data.get("dry_run"):  # a dry run's point is to show what would be sent
            for command in data.get("commands", []):
                self._print(f"    [dim]$ {escape(command)}[/]")

    def _on_feedback(self, data: dict[str, Any]) -> None:
        self._print(f"    [yellow]{escape(data['kind'])}:[/] {escape(data['message'])}")

    def _on_verdict(self, data: dict[str, Any]) -> None:
        colour = "green" if data["passed"] else "red"
        self._print(f"    [{colour}]{'yes' if data['passed'] else 'no'}[/] {escape(data.get('reason', ''))}")

    def _on_query(self, data: dict[str, Any]) -> None:
        value = json.dumps(data.get("value"), ensure_ascii=False)
        self._print(f"    [green]answer[/] {escape(value)}")

    def _on_confirmation(self, data: dict[str, Any]) -> None:
        if data.get("decision") == "no":
            self._declined.append(str(data.get("action", "")))

    def _on_question(self, data: dict[str, Any]) -> None:
        self._print(f"[bold magenta]the model asks:[/] {escape(data['question'])}")

    def _on_run_finished(self, data: dict[str, Any]) -> None:
        colour = "green" if data["status"] == "success" else "red"
        message = f": {escape(data['message'])}" if data.get("message") else ""
        self._print(f"[bold {colour}]{escape(data['status'])}[/]{message} ({plural(data['steps'], 'step')})")
        self._print(f"run saved in {escape(str(data['run_dir']))}")


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

    def __init__(self, *, stdin: IO[str] | None = None, console: Console | None = None,
                 events: EventSink | None = None) -> None:
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
