"""Several flywheel runs side by side: is a recipe's result the recipe's, or one lucky training?

Each run is a work folder of ``benchmarks/flywheel.py`` whose ``table`` stage has run (its
``flywheel.json`` holds the figures). One line per trained task and dialect, one column per run: the
right kind of action (the bar's figure, with the answers that parse in brackets where they fall short
of 100%) and the success rate; then whether the run meets the bar on every task, and the reading measure.

    python3 benchmarks/flywheel_spread.py seed-42=work/a seed-7=work/b --bar 0.9

Prints markdown; exit 2 with one line if a folder has no figures yet.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.flywheel_table import percent, trained_figures  # noqa: E402


def _cell(row: dict[str, Any]) -> str:
    parsed = "" if row["parse_rate"] >= 1 else f" ({percent(row['parse_rate'])} parse)"
    return f"{percent(row['kind_rate'])}{parsed} / {percent(row['success_rate'])}"


def meets_bar(report: dict[str, Any], bar: float) -> bool:
    """Answers that parse and the right kind of action at or above ``bar`` on every trained task."""
    rows = [row for rows in trained_figures(report).values() for row in rows]
    return bool(rows) and all(row["parse_rate"] >= bar and row["kind_rate"] >= bar for row in rows)


def spread_table(reports: dict[str, dict[str, Any]], bar: float) -> str:
    names = list(reports)
    lines = [
        "| task | dialect | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    by_run = {name: trained_figures(report) for name, report in reports.items()}
    first = by_run[names[0]]
    for dialect, rows in first.items():
        for index, row in enumerate(rows):
            cells = []
            for name in names:
                other = by_run[name].get(dialect, [])
                found = other[index] if index < len(other) and other[index]["task"] == row["task"] else None
                cells.append(_cell(found) if found else "-")
            lines.append(f"| {row['task']} | {dialect} | " + " | ".join(cells) + " |")
    lines.append(
        f"| meets the bar ({percent(bar)}) | | "
        + " | ".join("yes" if meets_bar(reports[name], bar) else "no" for name in names)
        + " |"
    )
    lines.append(
        "| reads the word (first) | | "
        + " | ".join(
            percent(reports[name]["reading"]["first"]) if reports[name].get("reading") else "-" for name in names
        )
        + " |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=OUT", help="a column's name and a flywheel work folder")
    parser.add_argument(
        "--bar", type=float, default=0.9, help="the share of steps that must parse and be the right kind"
    )
    args = parser.parse_args(argv)
    reports: dict[str, dict[str, Any]] = {}
    for item in args.runs:
        name, _, folder = item.rpartition("=")
        path = Path(folder) / "flywheel.json"
        report = json.loads(path.read_text()) if path.is_file() else {}
        if "figures" not in report:
            print(
                f"{path}: no figures yet; run benchmarks/flywheel.py --out {folder} to its table stage", file=sys.stderr
            )
            return 2
        reports[name or folder] = report
    print(spread_table(reports, args.bar), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
