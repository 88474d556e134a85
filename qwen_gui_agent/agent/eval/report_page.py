"""``report.html`` of an eval: the scores, then every miss drawn on its screenshot (target box, the click).

Self-contained like a run's report (images as data URLs, inline CSS and SVG, no script), and every
piece of data set or model text escaped: an instruction or an answer may hold markup.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files.images import open_rgb
from ..report.html import e
from ..report.page import ReportSettings, embed_image

log = logging.getLogger(__name__)

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; }
table { border-collapse: collapse; margin: 6px 0; }
td, th { text-align: left; padding: 2px 12px 2px 0; vertical-align: top; }
th { color: #666; font-weight: normal; }
.miss { background: white; border: 1px solid #ddd; border-radius: 6px; margin: 12px 0; padding: 10px 14px; }
.body { display: flex; gap: 16px; flex-wrap: wrap; }
.shot { position: relative; flex: 0 1 560px; min-width: 240px; align-self: flex-start; }
.shot img { display: block; width: 100%; height: auto; border: 1px solid #ddd; }
.shot svg { position: absolute; inset: 0; width: 100%; height: 100%; }
pre { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word;
      background: #f3f3f3; padding: 6px 8px; margin: 2px 0; }
.bad { color: #c0392b; } .muted { color: #666; }
"""


def render_page(
    title: str,
    facts: Mapping[str, object],
    summary: Mapping[str, Any],
    errors: Sequence[Mapping],
    misses: Sequence[Mapping[str, Any]],
    *,
    max_drawn: int = 500,
) -> str:
    settings = ReportSettings(max_width=720, max_height=900)
    drawn = "".join(_miss(record, settings) for record in misses[:max_drawn])
    more = (
        f'<p class="muted">{len(misses) - max_drawn} more misses are in results.json.</p>'
        if len(misses) > max_drawn
        else ""
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{e(title)}</h1>{_facts(facts)}{_summary(summary)}{_errors(errors)}"
        f"<h2>Misses ({len(misses)})</h2>{drawn}{more}</main></body></html>\n"
    )


def _facts(facts: Mapping[str, object]) -> str:
    rows = "".join(f"<tr><th>{e(name)}</th><td>{e(value)}</td></tr>" for name, value in facts.items())
    return f"<table>{rows}</table>"


def _summary(summary: Mapping[str, Any]) -> str:
    head = (
        f"<p><b>accuracy {100 * summary['accuracy']:.1f}%</b> ({summary['correct']} of {summary['items']} "
        f"scored items); {summary['errors']} error(s); outcomes: "
        f"{e(', '.join(f'{k} {v}' for k, v in summary.get('outcomes', {}).items()) or '-')}</p>"
    )
    tables = []
    for key, values in summary.get("groups", {}).items():
        rows = "".join(
            f"<tr><td>{e(value)}</td><td>{t['correct']}/{t['items']}</td><td>{100 * t['accuracy']:.1f}%</td></tr>"
            for value, t in values.items()
        )
        tables.append(
            f"<h2>By {e(key)}</h2><table><tr><th>{e(key)}</th><th>correct</th><th>accuracy</th></tr>{rows}</table>"
        )
    return head + "".join(tables)


def _errors(errors: Sequence[Mapping]) -> str:
    if not errors:
        return ""
    rows = "".join(
        f'<tr><td>{e(item["file"])}:{e(item["line"])}</td><td class="bad">{e(item["message"])}</td></tr>'
        for item in errors
    )
    return f"<h2>Errors ({len(errors)})</h2><table>{rows}</table>"


def _miss(record: Mapping[str, Any], settings: ReportSettings) -> str:
    lines = [
        f'<b>{e(record.get("id", ""))}</b> <span class="muted">{e(record.get("where", ""))}</span>',
        f"<div>{e(record.get('instruction') or record.get('goal') or '')}</div>",
    ]
    for label, key in (
        ("expected", "expected"),
        ("predicted", "predicted"),
        ("outcome", "outcome"),
        ("frame", "frame"),
        ("why", "error"),
    ):
        if record.get(key):
            lines.append(f'<div><span class="muted">{label}:</span> {e(record[key])}</div>')
    if record.get("point"):
        lines.append(f'<div><span class="muted">click (screenshot px):</span> {e(tuple(record["point"]))}</div>')
    if record.get("box"):
        lines.append(f'<div><span class="muted">target box:</span> {e(tuple(record["box"]))}</div>')
    answer = f"<pre>{e(record.get('answer', ''))}</pre>"
    return (
        f'<section class="miss"><div class="body">{_shot(record, settings)}'
        f"<div>{''.join(lines)}{answer}</div></div></section>"
    )


def _shot(record: Mapping[str, Any], settings: ReportSettings) -> str:
    path = record.get("image")
    if not path:
        return ""
    try:
        image = open_rgb(Path(path))  # a regular file, not a decompression bomb
        width, height = image.size
        embedded = embed_image(image, settings)
    except OSError as error:
        log.warning("%s: screenshot %s unreadable: %s", record.get("id"), path, error)
        return f'<p class="muted">screenshot {e(path)} unreadable</p>'
    return (
        f'<div class="shot"><img src="{embedded.data_url}" alt="screenshot" width="{embedded.width}" '
        f'height="{embedded.height}">{_overlay(record, width, height)}</div>'
    )


def _overlay(record: Mapping[str, Any], width: int, height: int) -> str:
    stroke = max(2.0, max(width, height) / 300)
    marks = []
    if record.get("box"):
        x1, y1, x2, y2 = (float(v) for v in record["box"])
        marks.append(
            f'<rect x="{x1:g}" y="{y1:g}" width="{x2 - x1:g}" height="{y2 - y1:g}" fill="none" '
            f'stroke="#1e8449" stroke-width="{stroke:g}"/>'
        )
    if record.get("expected_point"):
        x, y = record["expected_point"]
        marks.append(
            f'<circle cx="{x:g}" cy="{y:g}" r="{4 * stroke:g}" fill="none" stroke="#1e8449" '
            f'stroke-width="{stroke:g}" stroke-dasharray="{stroke:g}"/>'
        )
    if record.get("point"):
        x, y = record["point"]
        marks.append(
            f'<circle cx="{x:g}" cy="{y:g}" r="{3 * stroke:g}" fill="#c0392b" fill-opacity="0.5" '
            f'stroke="#c0392b" stroke-width="{stroke:g}"/>'
        )
    return (
        f'<svg viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(marks)}</svg>'
    )
