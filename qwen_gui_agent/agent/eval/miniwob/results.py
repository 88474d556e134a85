"""Scores from the episodes: per task and overall, as the published MiniWoB++ tables give them.

Success is the task's own reward being positive (MiniWoB++'s raw reward, 1 for a solved task and
-1 for a wrong submission on most tasks); an episode the agent stopped before the page ended it
(its ``finished``, the step budget, stuck) scores 0 and counts as a failure. The overall success
rate is the mean of the per-task rates (how papers average over tasks), with the rate over all
episodes beside it. Time per step is each episode's wall time over its steps, pooled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

RESULTS_JSON = "results.json"


def tally(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    count = len(records)
    steps = sum(int(record["steps"]) for record in records)
    seconds = sum(float(record["seconds"]) for record in records)
    successes = sum(bool(record["success"]) for record in records)
    return {
        "episodes": count,
        "successes": successes,
        "success_rate": _share(successes, count),
        "raw_reward": round(sum(float(r["raw_reward"]) for r in records) / count, 4) if count else 0.0,
        "reward": round(sum(float(r["reward"]) for r in records) / count, 4) if count else 0.0,
        "steps": round(steps / count, 2) if count else 0.0,
        "seconds_per_step": round(seconds / steps, 3) if steps else 0.0,
    }


def summarize(
    records: Sequence[Mapping[str, Any]], tasks: Sequence[str], kinds: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Per-task tallies in the order of ``tasks``, and the overall row."""
    by_task = {task: [record for record in records if record["task"] == task] for task in tasks}
    rows = {task: {**tally(members), "kinds": list(kinds.get(task, ()))} for task, members in by_task.items()}
    scored = [row for row in rows.values() if row["episodes"]]
    overall = tally(records)
    overall["mean_task_success"] = round(sum(row["success_rate"] for row in scored) / len(scored), 6) if scored else 0.0
    overall["tasks"] = len(scored)
    return {"overall": overall, "tasks": rows}


def failed(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [record for record in records if not record["success"]]


def write_results(directory: Path, document: Mapping[str, Any]) -> Path:
    """``results.json``, written beside and renamed into place (a reader never sees half a file)."""
    path = Path(directory) / RESULTS_JSON
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)
    return path


def console_table(summary: Mapping[str, Any], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column, justify in (
        ("task", "left"),
        ("kinds", "left"),
        ("episodes", "right"),
        ("success", "right"),
        ("raw reward", "right"),
        ("steps", "right"),
        ("s/step", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for task, row in summary["tasks"].items():
        table.add_row(escape(task), escape(", ".join(row["kinds"])), *_cells(row))
    overall = summary["overall"]
    table.add_section()
    table.add_row("[bold]all episodes[/bold]", "", *_cells(overall))
    table.add_row(
        "[bold]mean of tasks[/bold]",
        f"{overall['tasks']} tasks",
        "",
        f"{100 * overall['mean_task_success']:.1f}%",
        "",
        "",
        "",
    )
    return table


def _cells(row: Mapping[str, Any]) -> tuple[str, ...]:
    if not row["episodes"]:
        return ("0", "-", "-", "-", "-")
    return (
        str(row["episodes"]),
        f"{100 * row['success_rate']:.1f}%",
        f"{row['raw_reward']:+.2f}",
        f"{row['steps']:.1f}",
        f"{row['seconds_per_step']:.2f}",
    )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0
