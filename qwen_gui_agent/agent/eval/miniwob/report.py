"""``report.html`` of a MiniWoB++ eval: the table, then every failed episode's steps, linked to its run.

Self-contained like a run's report (thumbnails as data URLs, inline CSS), every text escaped (an
instruction or a model's answer may hold markup). Each failed episode shows its instruction, how it
ended, and each step's screenshot, thought, actions and the device's commands; its title links the
run directory's own ``report.html`` (a relative link, so the folder can be moved or zipped whole).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from ...records.run_files import RunLoadError, load_run
from ...report.html import e
from ...report.page import REPORT_FILE, ReportSettings, embed_image

log = logging.getLogger(__name__)

REPORT_HTML = "report.html"
MAX_DRAWN = 200  # failed episodes drawn with their steps; the rest are listed
_THUMBNAILS = ReportSettings(max_width=200, max_height=260)
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; } h3 { font-size: 14px; margin: 0 0 6px; }
table { border-collapse: collapse; margin: 6px 0; }
td, th { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
th { color: #666; font-weight: normal; } td.n { text-align: right; }
.episode { background: white; border: 1px solid #ddd; border-radius: 6px; margin: 12px 0; padding: 10px 14px; }
.steps { display: flex; gap: 12px; flex-wrap: wrap; }
.step { flex: 0 0 210px; font-size: 12px; }
.step img { display: block; max-width: 200px; border: 1px solid #ddd; }
pre { font: 11px/1.35 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word;
      background: #f3f3f3; padding: 4px 6px; margin: 2px 0; }
.bad { color: #c0392b; } .muted { color: #666; }
"""


def write_report(
    directory: Path,
    title: str,
    facts: Mapping[str, object],
    summary: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    notes: Sequence[str],
) -> Path:
    path = Path(directory) / REPORT_HTML
    failures = [record for record in records if not record["success"]]
    drawn = "".join(_episode(directory, record) for record in failures[:MAX_DRAWN])
    more = "".join(f"<li>{e(record['id'])}: {e(record['message'])}</li>" for record in failures[MAX_DRAWN:])
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{e(title)}</h1>{_facts(facts)}{''.join(f'<p class=muted>{e(note)}</p>' for note in notes)}"
        f"{_table(summary)}<h2>Failed episodes ({len(failures)})</h2>{drawn}"
        f"{f'<ul>{more}</ul>' if more else ''}</main></body></html>\n"
    )
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    os.replace(temporary, path)
    return path


def _facts(facts: Mapping[str, object]) -> str:
    return "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts.items()) + "</table>"


def _table(summary: Mapping[str, Any]) -> str:
    head = "".join(
        f"<th>{e(name)}</th>" for name in ("task", "kinds", "episodes", "success", "raw reward", "steps", "s/step")
    )
    rows = [_row(task, row) for task, row in summary["tasks"].items()]
    overall = summary["overall"]
    rows.append(_row(f"all tasks (mean of {overall['tasks']}: {100 * overall['mean_task_success']:.1f}%)", overall))
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _row(name: str, row: Mapping[str, Any]) -> str:
    cells = [e(name), e(", ".join(row.get("kinds", ())))]
    if row["episodes"]:
        cells += [
            str(row["episodes"]),
            f"{100 * row['success_rate']:.1f}%",
            f"{row['raw_reward']:+.2f}",
            f"{row['steps']:.1f}",
            f"{row['seconds_per_step']:.2f}",
        ]
    else:
        cells += ["0", "-", "-", "-", "-"]
    return (
        "<tr>"
        + "".join(f"<td>{cell}</td>" if i < 2 else f"<td class=n>{cell}</td>" for i, cell in enumerate(cells))
        + "</tr>"
    )


def _episode(directory: Path, record: Mapping[str, Any]) -> str:
    run_dir = Path(directory) / record["run_dir"] if record.get("run_dir") else None  # relative to the folder
    title = e(f"{record['task']} seed {record['seed']}")
    if run_dir is not None:
        link = os.path.relpath(run_dir / REPORT_FILE, directory)
        title = f'<a href="{e(link)}">{title}</a>'
    ended = (
        f"{e(record['status'])}: {e(record['message'])}; raw reward {record['raw_reward']:g}, {record['steps']} steps"
    )
    steps = _steps(run_dir) if run_dir is not None else ""
    return (
        f"<div class=episode><h3>{title}</h3><div>{e(record['utterance'])}</div>"
        f"<div class=bad>{ended}</div><div class=steps>{steps}</div></div>"
    )


def _steps(run_dir: Path) -> str:
    try:
        run = load_run(run_dir)
    except RunLoadError as error:
        return f"<p class=muted>{e(error)}</p>"
    parts = []
    for step in run.steps:
        image = ""
        path = run.screenshot_path(step)
        if path is not None:
            try:
                with Image.open(path) as screenshot:
                    embedded = embed_image(screenshot, _THUMBNAILS)
                image = f'<img src="{embedded.data_url}" alt="step {step.index}">'
            except (OSError, UnidentifiedImageError) as error:
                log.info("step %d of %s: %s", step.index, run_dir, error)
        lines = [
            *(f"{action}" for action in step.actions),
            *(command for executed in step.executed for command in executed.commands),
        ]
        notes = [text for text in (step.error.message if step.error else "", step.note) if text]
        parts.append(
            f"<div class=step><b>{step.index}</b> {image}<div>{e(step.thought)}</div>"
            f"<pre>{e(chr(10).join(lines))}</pre>"
            + "".join(f"<div class=bad>{e(note)}</div>" for note in notes)
            + "</div>"
        )
    return "".join(parts)
