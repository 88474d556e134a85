"""Live progress for a person at the console: what the agent is doing now, and for how long.

``RichEvents`` turns the run's events into lines and, at a terminal, one live status line (a
spinner with the elapsed time) that follows the model loading and each step's phases
(screenshot, model call, parse, act). The model's thought is printed as soon as its answer is
parsed, each step ends with its action and time, and the run ends with a summary table.

When stdout is not a terminal (a log file, CI) nothing is animated: the same lines are printed
once each, without the live status, so a log reads top to bottom.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .console import plural

# What the live status says for each phase a step reports (agent.runtime.session.Session.phase).
PHASE_LABELS = {
    "screenshot": "taking a screenshot",
    "model": "asking the model",
    "parse": "reading the answer",
    "act": "acting",
}


def format_timings(timings: dict[str, float]) -> str:
    shown = [f"{name} {ms:.0f} ms" for name, ms in timings.items() if name != "total"]
    if "total" in timings:
        shown.append(f"total {timings['total']:.0f} ms")
    return " · ".join(shown)


def format_seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


class _Ticker:
    """A spinner, a label and the seconds since the label was set; rendered afresh at every refresh."""

    def __init__(self, label: str) -> None:
        self.spinner = Spinner("dots", style="cyan")
        self.label = label
        self.since = time.monotonic()

    def set(self, label: str) -> None:
        self.label, self.since = label, time.monotonic()

    def __rich__(self) -> RenderableType:
        elapsed = format_seconds(time.monotonic() - self.since)
        self.spinner.text = Text.assemble((self.label, "bold"), " ", (elapsed, "dim"))
        return self.spinner


class LiveStatus:
    """One transient status line at the bottom of a terminal; lines printed meanwhile scroll above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._ticker: _Ticker | None = None
        self._live: Live | None = None

    def show(self, label: str) -> None:
        if self._ticker is None:
            self._ticker = _Ticker(label)
            self._live = Live(self._ticker, console=self.console, transient=True, refresh_per_second=8)
            self._live.start()
        else:
            self._ticker.set(label)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
        self._live = self._ticker = None


class RichEvents:
    """Progress for a person; ``verbose`` adds the device commands. ``live`` defaults to "is a terminal"."""

    def __init__(self, console: Console | None = None, *, verbose: int = 0, live: bool | None = None) -> None:
        self.console = console if console is not None else Console(highlight=False)
        self.verbose = verbose
        self.live = self.console.is_terminal if live is None else live
        self._status = LiveStatus(self.console)
        self._declined: list[str] = []  # actions declined at --confirm: the step's line says they were not run
        self._open_step: int | None = None  # the step whose header is printed and whose end is awaited
        self._fed_back: set[str] = set()  # feedback printed for the open step: its record's error repeats it
        self._summary: list[dict[str, Any]] = []

    def emit(self, event: str, data: dict[str, Any]) -> None:
        handler = getattr(self, f"_on_{event}", None)
        if handler is not None:
            handler(data)

    def close(self) -> None:
        self._status.stop()

    # ------------------------------------------------------------------ helpers

    def _print(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)

    def _show(self, label: str) -> None:
        if self.live:
            self._status.show(label)

    def _header(self, data: dict[str, Any]) -> None:
        # The run's step number; an ai step also shows where it is in its own goal's budget.
        budget = data.get("goal_step"), data.get("max_steps")
        limit = f" (goal {budget[0]}/{budget[1]})" if all(budget) else ""
        kind = data.get("kind") or "ai"
        label = "" if kind == "ai" else f" [cyan]{escape(kind)}[/]"
        self._print(f"[bold]step {data['index']}{limit}[/]{label}")
        self._open_step = data["index"]

    # ------------------------------------------------------------------ model loading

    def _on_model_loading(self, data: dict[str, Any]) -> None:
        label = f"loading the model {data.get('model', '')} ({data.get('backend', '')})"
        if self.live:
            self._status.show(label)
        else:
            self._print(escape(label))

    def _on_model_ready(self, data: dict[str, Any]) -> None:
        self._status.stop()
        self._print(f"[dim]model ready in {format_seconds(float(data.get('seconds', 0.0)))}[/]")

    # ------------------------------------------------------------------ the run and its steps

    def _on_run_started(self, data: dict[str, Any]) -> None:
        self._print(f"[bold]task[/] {escape(data['task'])}")
        self._print(
            f"[dim]device {escape(str(data.get('device', '')))} · dialect {escape(str(data.get('dialect', '')))}"
            f" · model {escape(str(data.get('model', '')))} · run {escape(str(data.get('run_dir', '')))}[/]"
        )

    def _on_task_step(self, data: dict[str, Any]) -> None:
        self._status.stop()
        self._print(f"[bold cyan]▶ {escape(data['kind'])}[/] {escape(data['text'])}")

    def _on_step_started(self, data: dict[str, Any]) -> None:
        self._status.stop()
        self._header(data)
        self._show("starting")

    def _on_phase(self, data: dict[str, Any]) -> None:
        if data.get("phase") == "confirm":  # a question at the terminal: no spinner over the prompt
            self._status.stop()
        elif data.get("phase") in PHASE_LABELS:
            self._show(PHASE_LABELS[data["phase"]])

    def _on_thought(self, data: dict[str, Any]) -> None:
        self._print(f"    [italic]{escape(data['thought'])}[/]")

    def _on_step(self, data: dict[str, Any]) -> None:
        self._status.stop()
        if self._open_step != data["index"]:  # no step_started came (an older sink's events)
            self._header(data)
        self._open_step = None
        actions = "; ".join(data.get("actions", [])) or "(no action)"
        mark = " [yellow](dry run)[/]" if data.get("dry_run") else ""
        if self._declined:
            mark += " [yellow](declined, not run)[/]"
            self._declined.clear()
        timings = data.get("timings_ms", {})
        seconds = f" [dim]{format_seconds(timings['total'] / 1000)}[/]" if "total" in timings else ""
        self._print(f"    → {escape(actions)}{mark}{seconds}")
        error = data.get("error")
        if error and str(error.get("message", "")) not in self._fed_back:
            kind, message = str(error.get("kind", "error")), str(error.get("message", ""))
            self._print(f"    [red]{escape(kind)}:[/] {escape(message)}")
        self._fed_back.clear()
        self._print(f"    [dim]{escape(format_timings(timings))}[/]")
        if self.verbose or data.get("dry_run"):  # a dry run's point is to show what would be sent
            for command in data.get("commands", []):
                self._print(f"    [dim]$ {escape(command)}[/]")
        self._summary.append(data)

    def _on_feedback(self, data: dict[str, Any]) -> None:
        self._print(f"    [yellow]{escape(data['kind'])}:[/] {escape(data['message'])}")
        self._fed_back.add(str(data["message"]))

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
        self._status.stop()
        self._print(f"[bold magenta]the model asks:[/] {escape(data['question'])}")

    def _on_run_finished(self, data: dict[str, Any]) -> None:
        self._status.stop()
        if self._summary:
            self.console.print(summary_table(self._summary))
        colour = "green" if data["status"] == "success" else "red"
        message = f": {escape(data['message'])}" if data.get("message") else ""
        self._print(f"[bold {colour}]{escape(data['status'])}[/]{message} ({plural(data['steps'], 'step')})")
        self._print(f"run saved in {escape(str(data['run_dir']))}")


def summary_table(steps: list[dict[str, Any]]) -> Table:
    """One row per recorded step: what it did, how it ended, how long it took; the total at the foot."""
    table = Table(title="steps", title_justify="left", show_footer=True, box=None, pad_edge=False)
    total_ms = sum(step.get("timings_ms", {}).get("total", 0.0) for step in steps)
    table.add_column("#", justify="right", footer="")
    table.add_column("kind", footer="")
    table.add_column("action", overflow="fold", footer="total")
    table.add_column("result", footer="")
    table.add_column("time", justify="right", footer=format_seconds(total_ms / 1000))
    for step in steps:
        error = step.get("error")
        result = Text(str(error.get("kind", "error")), style="red") if error else Text("ok", style="green")
        if step.get("dry_run"):
            result = Text("dry run", style="yellow")
        table.add_row(
            str(step["index"]),
            str(step.get("kind") or "ai"),
            "; ".join(step.get("actions", [])) or "-",
            result,
            format_seconds(step.get("timings_ms", {}).get("total", 0.0) / 1000),
        )
    return table
