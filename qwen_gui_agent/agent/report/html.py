"""The markup of ``report.html``.

Every piece of recorded text goes through ``html.escape``: a model can answer
with HTML or a ``<script>``, and the page must show it, not run it. The page
links nothing outside itself (no scripts, fonts or stylesheets).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape

from ..records.run_files import MODEL_KINDS, QUERY_KINDS, VERDICT_KINDS, RecordedRun, StepRecord
from .overlay import overlay_svg, step_markers


@dataclass(frozen=True)
class EmbeddedImage:
    """One step's screenshot as the page carries it (report.embed_image makes them)."""

    data_url: str
    width: int  # of the embedded (downscaled) image
    height: int
    bytes: int


_STYLE = """
:root { --ok:#1e8449; --bad:#c0392b; --warn:#b9770e; --muted:#666; --line:#ddd; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #f6f6f4; }
header, main { max-width: 1200px; margin: 0 auto; padding: 16px 24px; }
h1 { font-size: 20px; margin: 0 0 8px; word-break: break-word; }
h2 { font-size: 16px; margin: 0; }
table { border-collapse: collapse; }
td, th { text-align: left; vertical-align: top; padding: 3px 10px 3px 0; }
.facts th { color: var(--muted); font-weight: normal; white-space: nowrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; color: white; font-size: 12px; }
.status-success { background: var(--ok); } .status-running { background: var(--warn); }
.status-failure, .status-error, .status-stuck, .status-budget { background: var(--bad); }
.status-interrupted, .status-needs_user { background: var(--warn); }
.banner { background: #fdebd0; border: 1px solid var(--warn); padding: 8px 12px; margin: 8px 0; }
.timeline td { border-bottom: 1px solid var(--line); padding: 3px 10px; }
.step { background: white; border: 1px solid var(--line); border-radius: 6px; margin: 16px 0; padding: 12px 16px; }
.step.has-error { border-left: 4px solid var(--bad); }
.step-body { display: flex; gap: 16px; flex-wrap: wrap; margin-top: 8px; }
.shot { position: relative; flex: 0 1 560px; min-width: 240px; align-self: flex-start; }
.shot img { display: block; width: 100%; height: auto; border: 1px solid var(--line); }
.shot svg.overlay { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; }
.no-shot { color: var(--muted); font-style: italic; }
.details { flex: 1 1 320px; min-width: 280px; }
pre, code { font: 12px/1.4 ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
pre { background: #f3f3f3; padding: 6px 8px; margin: 2px 0; border-radius: 4px; }
.error { color: var(--bad); } .muted { color: var(--muted); }
.dry { background: #7f8c8d; }
"""


def e(value: object) -> str:
    return escape(str(value), quote=True)


def render_report(run: RecordedRun, images: Mapping[int, EmbeddedImage]) -> str:
    info = run.info
    title = f"{status_label(info.status)}: {info.task}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>"
        f"<header>{_run_header(run)}</header>"
        f"<main>{_timeline(run.steps)}{''.join(_step(run, step, images.get(step.index)) for step in run.steps)}</main>"
        "</body></html>\n"
    )


def _run_header(run: RecordedRun) -> str:
    info = run.info
    ended = info.ended_at if info.ended_at is not None else last_step_end(run.steps)
    facts: list[tuple[str, str]] = [
        ("run", e(info.run_id)),
        ("status", f'<span class="badge status-{e(info.status)}">{e(status_label(info.status))}</span>'),
        ("outcome", e(info.message) or '<span class="muted">(no message)</span>'),
        ("steps", str(len(run.steps))),
        ("started", e(_clock(info.started_at))),
        ("duration", e(f"{ended - info.started_at:.1f} s") if ended is not None else "-"),
        ("dialect", e(info.dialect)),
        ("model", _mapping(info.model)),
        ("device", _mapping(info.device)),
        ("frame settings", _mapping(info.frame_settings)),
        ("tokens", e(_token_totals(run.steps))),
        ("time per phase", _mapping(_phase_totals(run.steps))),
    ]
    if info.task_file:
        facts.insert(1, ("task file", e(info.task_file)))
    if info.versions:
        facts.append(("versions", _mapping(info.versions)))
    banners = ""
    if run.truncated:
        banners += (
            '<p class="banner">The run was cut off while writing a step (killed?): '
            "shown up to its last complete step.</p>"
        )
    if info.status == "running":
        banners += '<p class="banner">The run never recorded an end: it is still going or was killed.</p>'
    rows = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in facts)
    return f'<h1>{e(info.task)}</h1>{banners}<table class="facts">{rows}</table>'


def status_label(status: str) -> str:
    # run.json says "running" until the run ends: a report of one that stays so was killed, or is still going.
    return "did not finish (killed?)" if status == "running" else status


def last_step_end(steps: list[StepRecord]) -> float | None:
    """When the last recorded step ended (its start plus its measured time): a killed run's last sign of life."""
    if not steps:
        return None
    last = steps[-1]
    return last.started_at + last.timings_ms.get("total", 0.0) / 1000


def _timeline(steps: list[StepRecord]) -> str:
    if not steps:
        return '<p class="muted">No step was recorded.</p>'
    rows = []
    for step in steps:
        action = _timeline_action(step)
        problem = f'<span class="error">{e(step.error.kind)}</span>' if step.error else ""
        rows.append(
            f'<tr><td><a href="#step-{step.index}">{step.index}</a></td><td>{e(step.kind)}</td>'
            f"<td><code>{e(_shorten(action, 120))}</code></td><td>{e(_ms(step.timings_ms.get('total')))}</td>"
            f"<td>{e(_tokens(step))}</td><td>{problem}</td></tr>"
        )
    head = "<tr><th>#</th><th>kind</th><th>action</th><th>total</th><th>tokens</th><th>error</th></tr>"
    return f'<table class="timeline">{head}{"".join(rows)}</table>'


def _timeline_action(step: StepRecord) -> str:
    """What the step did, in one line; a yes/no check shows its question and the model's verdict."""
    if step.kind in VERDICT_KINDS:
        verdict, _, statement = step.note.partition(": ")
        if verdict in ("yes", "no"):
            return f"{statement} → {verdict}"
        return f"{step.goal} → no verdict" if step.goal else "no verdict"
    if step.kind in QUERY_KINDS:
        return f"{step.note} → {json.dumps(step.value, ensure_ascii=False)}"
    return "; ".join(step.actions) or "; ".join(x.action for x in step.executed)


def _step(run: RecordedRun, step: StepRecord, image: EmbeddedImage | None) -> str:
    offset = step.started_at - run.info.started_at
    classes = "step has-error" if step.error else "step"
    heading = f'Step {step.index} <span class="muted">{e(step.kind)} · +{offset:.1f} s</span>'
    return (
        f'<section class="{classes}" id="step-{step.index}"><h2>{heading}</h2>'
        f'<div class="step-body">{_screenshot(step, image)}<div class="details">{_step_details(step)}</div></div>'
        "</section>"
    )


def _screenshot(step: StepRecord, image: EmbeddedImage | None) -> str:
    if image is None:
        return '<div class="shot no-shot">no screenshot recorded</div>'
    overlay = ""
    if step.geometry is not None:
        overlay = overlay_svg(step_markers(step), step.geometry.width, step.geometry.height)
    size = f"{step.geometry.width}x{step.geometry.height}" if step.geometry else "unknown size"
    return (
        f'<div class="shot"><img src="{image.data_url}" width="{image.width}" height="{image.height}" '
        f'alt="screenshot of step {step.index} ({e(size)})">{overlay}</div>'
    )


def _step_details(step: StepRecord) -> str:
    rows: list[tuple[str, str]] = []
    if step.thought:
        rows.append(("thought", f"<pre>{e(step.thought)}</pre>"))
    if step.actions:
        frame = f' <span class="muted">({e(_frame(step))})</span>'
        rows.append(("actions" + frame, _lines(step.actions)))
    for executed in step.executed:
        badge = ' <span class="badge dry">dry run</span>' if executed.dry_run else ""
        rows.append(("executed" + badge, _lines([executed.action]) + _lines(executed.commands, muted=True)))
    if step.error is not None:
        rows.append(("error", f'<pre class="error">{e(step.error.kind)}: {e(step.error.message)}</pre>'))
    if step.feedback:
        rows.append(("feedback", f"<pre>{e(step.feedback)}</pre>"))
    if step.note:
        rows.append(("note", f"<pre>{e(step.note)}</pre>"))
    if step.kind in QUERY_KINDS:
        rows.append(("value", f"<pre>{e(json.dumps(step.value, ensure_ascii=False, indent=2))}</pre>"))
    if step.timings_ms:
        rows.append(("timings", _mapping({k: _ms(v) for k, v in step.timings_ms.items()})))
    if step.prompt_tokens is not None or step.completion_tokens is not None:
        rows.append(("tokens", e(_tokens(step))))
    if step.geometry is not None:
        g = step.geometry
        rows.append(("screen", e(f"{g.width}x{g.height} scale {g.scale:g} origin ({g.origin_x},{g.origin_y})")))
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    answer = f"<details><summary>raw answer</summary><pre>{e(step.answer)}</pre></details>" if step.answer else ""
    return f'<table class="facts">{table}</table>{answer}'


def _frame(step: StepRecord) -> str:
    """Which coordinates the step's actions are in."""
    if step.frame is None:
        return "screenshot pixels"
    size = f"{step.frame.width}x{step.frame.height}" + (" relative" if step.frame.relative else "")
    # Only a model's answer is in a model frame; literal steps (do, type ...) use their task's frame.
    return f"model frame {size}" if step.kind in MODEL_KINDS else f"frame {size}"


def _lines(lines: Iterable[str], *, muted: bool = False) -> str:
    style = ' class="muted"' if muted else ""
    return "".join(f"<pre{style}>{e(line)}</pre>" for line in lines)


def _mapping(values: Mapping[str, object]) -> str:
    if not values:
        return '<span class="muted">-</span>'
    return "<br>".join(
        f"{e(key)}: <code>{e(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))}</code>"
        for key, value in values.items()
    )


def _tokens(step: StepRecord) -> str:
    if step.prompt_tokens is None and step.completion_tokens is None:
        return ""
    return f"{step.prompt_tokens or 0} in / {step.completion_tokens or 0} out"


def _token_totals(steps: list[StepRecord]) -> str:
    prompt = sum(step.prompt_tokens or 0 for step in steps)
    completion = sum(step.completion_tokens or 0 for step in steps)
    return f"{prompt} prompt + {completion} completion = {prompt + completion}"


def _phase_totals(steps: list[StepRecord]) -> dict[str, str]:
    totals: dict[str, float] = {}
    for step in steps:
        for phase, ms in step.timings_ms.items():
            totals[phase] = totals.get(phase, 0.0) + ms
    # A step's "total" covers its phases: listed last, as the sum under a column.
    ordered = sorted(totals, key=lambda phase: phase == "total")
    return {phase: _ms(totals[phase]) for phase in ordered}


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(timestamp))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
