"""A suite's results for people and programs: a console table, suite.json, JUnit XML and index.html.

JUnit: one ``testcase`` per task file. success passes; failure, stuck, budget
and needs_user are ``failure``s (the agent did not do the task); error (a
device, backend or internal failure) is an ``error``; interrupted and not-run
tasks are ``skipped``. Each case's ``system-out`` names the device and the run
directory, whose report.html the index page links.

The three files are written when the suite starts and again as each task ends
(``progress.SuiteRecord``): until the last write their ``state`` is ``running``,
and tasks still pending or running are JUnit ``error``s "not finished", so a
suite killed with SIGKILL leaves files that say it did not finish.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..files.writing import replace_text
from ..runtime.runner import model_label
from .runner import NOT_RUN, PENDING, RUNNING, SuiteRun, TaskOutcome, outcome_data

FAILED = frozenset({"failure", "stuck", "budget", "needs_user"})
SKIPPED = frozenset({"interrupted", NOT_RUN})
UNFINISHED = frozenset({PENDING, RUNNING})
NOT_FINISHED_NOTE = "the suite did not finish: it is still going, or it was killed (kill -9) before its end"
SUITE_FILE = "suite.json"
JUNIT_FILE = "junit.xml"
INDEX_FILE = "index.html"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class SuiteSummary:
    suite_dir: Path
    run: SuiteRun
    devices: tuple[str, ...]
    parallel: int
    started_at: float
    ended_at: float | None  # None until the suite has finished
    model: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> str:
        """``finished``, or ``running`` while it goes (and for good when it was killed)."""
        return "running" if self.ended_at is None else "finished"

    @property
    def seconds(self) -> float:
        return (self.ended_at if self.ended_at is not None else time.time()) - self.started_at

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(outcome.status for outcome in self.run.outcomes))

    @property
    def exit_code(self) -> int:
        """0 when every task succeeded, 130 when the suite was stopped, 2 when a run could not be written, else 1."""
        if self.run.interrupted:
            return 130
        if any(outcome.unwritable for outcome in self.run.outcomes):
            return 2
        return 0 if all(outcome.status == "success" for outcome in self.run.outcomes) else 1


def write_summary(summary: SuiteSummary) -> list[Path]:
    """suite.json, junit.xml and index.html in the suite directory, each replaced whole; their paths."""
    directory = summary.suite_dir
    written = [directory / SUITE_FILE, directory / JUNIT_FILE, directory / INDEX_FILE]
    replace_text(written[0], json.dumps(suite_data(summary), ensure_ascii=False, indent=2) + "\n")
    replace_text(written[1], junit_xml(summary))
    replace_text(written[2], index_html(summary))
    return written


def suite_data(summary: SuiteSummary) -> dict[str, Any]:
    finished = summary.state == "finished"
    return {
        "suite_dir": str(summary.suite_dir),
        "state": summary.state,
        "started_at": summary.started_at,
        "ended_at": summary.ended_at,
        "seconds": round(summary.seconds, 3),
        "parallel": summary.parallel,
        "devices": list(summary.devices),
        "dropped_devices": summary.run.retired,
        "interrupted": summary.run.interrupted,
        "model": summary.model,
        "counts": summary.counts,
        "exit_code": summary.exit_code if finished else None,
        "tasks": [outcome_data(outcome) for outcome in summary.run.outcomes],
    }


def _clean(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def junit_xml(summary: SuiteSummary) -> str:
    outcomes = summary.run.outcomes
    root = ET.Element(
        "testsuites",
        name="agent suite",
        tests=str(len(outcomes)),
        failures=str(sum(o.status in FAILED for o in outcomes)),
        errors=str(sum(o.status == "error" or o.status in UNFINISHED for o in outcomes)),
        skipped=str(sum(o.status in SKIPPED for o in outcomes)),
        time=f"{summary.seconds:.3f}",
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_clean(summary.suite_dir.name),
        tests=root.get("tests", "0"),
        failures=root.get("failures", "0"),
        errors=root.get("errors", "0"),
        skipped=root.get("skipped", "0"),
        time=root.get("time", "0"),
    )
    properties = ET.SubElement(suite, "properties")
    facts = {
        "devices": ",".join(summary.devices),
        "parallel": str(summary.parallel),
        "dropped_devices": ",".join(summary.run.retired),
        "model": model_label(summary.model),
    }
    for name, value in facts.items():
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    for outcome in outcomes:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_clean(f"suite.{outcome.path.stem}"),
            name=_clean(str(outcome.path)),
            time=f"{outcome.seconds:.3f}",
        )
        first_line = (outcome.message.splitlines() or [outcome.status])[0]
        if outcome.status in FAILED:
            failure = ET.SubElement(case, "failure", message=_clean(first_line), type=outcome.status)
            failure.text = _clean(outcome.message)
        elif outcome.status == "error":
            ET.SubElement(case, "error", message=_clean(first_line), type="error").text = _clean(outcome.message)
        elif outcome.status in UNFINISHED:  # a file written while the suite goes, or left by a killed suite
            ET.SubElement(case, "error", message=_clean(f"{outcome.status}: {NOT_FINISHED_NOTE}"), type="unfinished")
        elif outcome.status in SKIPPED:
            ET.SubElement(case, "skipped", message=_clean(f"{outcome.status}: {first_line}"))
        ET.SubElement(case, "system-out").text = _clean(
            f"task: {outcome.title}\nstatus: {outcome.status}\ndevice: {outcome.device or '-'}\n"
            f"steps: {outcome.steps}\nrun: {outcome.run_dir or '-'}"
        )
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _link(summary: SuiteSummary, outcome: TaskOutcome) -> str:
    if outcome.run_dir is None:
        return "-"
    report = outcome.run_dir / "report.html"
    target = report if report.is_file() else outcome.run_dir
    relative = os.path.relpath(target, summary.suite_dir)
    return f'<a href="{html.escape(relative)}">{html.escape(outcome.run_dir.name)}</a>'


def index_html(summary: SuiteSummary) -> str:
    rows = "\n".join(
        f'<tr class="{html.escape(o.status)}"><td>{html.escape(str(o.path))}</td><td>{html.escape(o.title)}</td>'
        f"<td>{html.escape(o.device or '-')}</td><td>{html.escape(o.status)}</td><td>{o.steps}</td>"
        f"<td>{o.seconds:.1f}</td><td>{_link(summary, o)}</td><td>{html.escape(o.message)}</td></tr>"
        for o in summary.run.outcomes
    )
    counts = ", ".join(f"{count} {status}" for status, count in sorted(summary.counts.items()))
    dropped = "".join(
        f"<li>{html.escape(spec)}: {html.escape(reason)}</li>" for spec, reason in summary.run.retired.items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Suite {html.escape(summary.suite_dir.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;text-align:left}}tr.success td:nth-child(4){{color:#070}}tr.error td:nth-child(4),
tr.failure td:nth-child(4){{color:#b00}}</style></head><body>
<h1>Suite {html.escape(summary.suite_dir.name)}</h1>
<p>{len(summary.run.outcomes)} tasks on {len(summary.devices)} devices ({html.escape(", ".join(summary.devices))}),
{summary.parallel} at once, {summary.seconds:.1f} s: {html.escape(counts)}.
{"<strong>Stopped before the end.</strong>" if summary.run.interrupted else ""}
{f"<strong>{html.escape(NOT_FINISHED_NOTE.capitalize())}.</strong>" if summary.state == "running" else ""}</p>
{f"<p>Devices that left the pool:</p><ul>{dropped}</ul>" if dropped else ""}
<table><thead><tr><th>task file</th><th>task</th><th>device</th><th>status</th><th>steps</th><th>seconds</th>
<th>run</th><th>message</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><a href="{SUITE_FILE}">{SUITE_FILE}</a> · <a href="{JUNIT_FILE}">{JUNIT_FILE}</a></p>
</body></html>
"""


def console_table(summary: SuiteSummary) -> Table:
    table = Table(title=f"suite {summary.suite_dir.name}", title_justify="left")
    for column in ("task file", "device", "status", "steps", "seconds", "message"):
        table.add_column(column, overflow="fold")
    for outcome in summary.run.outcomes:
        colour = "green" if outcome.status == "success" else ("yellow" if outcome.status in SKIPPED else "red")
        table.add_row(
            escape(str(outcome.path)),
            escape(outcome.device or "-"),
            f"[{colour}]{outcome.status}[/]",
            str(outcome.steps),
            f"{outcome.seconds:.1f}",
            escape(outcome.message[:120]),
        )
    return table
