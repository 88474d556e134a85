"""The flywheel's report as markdown: the figures before and after training, each stage's time, the loss curve."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def loss_curve(sft_dir: Path) -> list[dict[str, float]]:
    """Every logged training step of ms-swift's ``logging.jsonl``: step, loss, token accuracy, learning rate."""
    curve = []
    for log in sorted(Path(sft_dir).glob("v*/logging.jsonl")):
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if "loss" in entry and "global_step/max_steps" in entry:
                curve.append(
                    {
                        "step": int(str(entry["global_step/max_steps"]).split("/")[0]),
                        "loss": round(float(entry["loss"]), 4),
                        "token_acc": round(float(entry.get("token_acc", 0.0)), 4),
                        "learning_rate": float(entry.get("learning_rate", 0.0)),
                    }
                )
    return curve


def percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _pair(before: dict[str, Any], after: dict[str, Any], key: str, as_percent: bool = True) -> str:
    show = percent if as_percent else (lambda value: f"{value:+.2f}")
    return f"{show(before[key])} → {show(after[key])}"


def trained_figures(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trained model's figures rows by dialect (the report's "trained-DIALECT" entries, not "-by-index")."""
    return {
        key.removeprefix("trained-"): rows
        for key, rows in report["figures"].items()
        if key.startswith("trained-") and not key.endswith("-by-index")
    }


def figures_table(report: dict[str, Any]) -> list[str]:
    header = (
        "| task | dialect | episodes | answers parse | right kind of action | (by step index) "
        "| clicks hit (pointing steps) | chance | fixed point | success | raw reward |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    figures = report["figures"]
    for dialect, trained in trained_figures(report).items():
        by_index = figures.get(f"trained-{dialect}-by-index") or [{} for _ in trained]
        for before, after, indexed in zip(figures[f"init-{dialect}"], trained, by_index, strict=True):
            hits = f"{_pair(before, after, 'hit_rate')} ({after['pointing']})"
            indexed_kind = percent(indexed["kind_rate"]) if "kind_rate" in indexed else "-"
            lines.append(
                f"| {after['task']} | {dialect} | {after['episodes']} | {_pair(before, after, 'parse_rate')} "
                f"| {_pair(before, after, 'kind_rate')} | {indexed_kind} | {hits} | {percent(after['chance'])} "
                f"| {percent(after['fixed_point'])} "
                f"| {_pair(before, after, 'success_rate')} | {_pair(before, after, 'raw_reward', False)} |"
            )
    return lines


def wrong_kinds(report: dict[str, Any]) -> list[str]:
    """The trained model's steps of the wrong kind, by what the reference would do → what it did."""
    lines = []
    for dialect, rows in trained_figures(report).items():
        for row in rows:
            if row.get("wrong_kinds"):
                seeds = row.get("wrong_kind_seeds", {})  # absent in reports from before the figures named them
                counts = ", ".join(
                    f"{kinds} {count}{_episodes(seeds.get(kinds))}" for kinds, count in row["wrong_kinds"].items()
                )
                lines.append(f"- {row['task']} ({dialect}): {counts}")
    if not lines:
        return []
    return [
        "Steps of the wrong kind (trained, judged as in the right-kind column; the reference's kind → the model's):",
        "",
        *lines,
        "",
    ]


def _episodes(seeds: list[int] | None, named: int = 6) -> str:
    """Which episodes a kind of mistake came from: their seeds while few (whether the mistake sits on
    seeds that share something), else how many."""
    if not seeds:
        return ""
    if len(seeds) <= named:
        return f" (seed{'s' if len(seeds) > 1 else ''} {', '.join(str(seed) for seed in seeds)})"
    return f" (in {len(seeds)} episodes)"


def parse_by_step(report: dict[str, Any]) -> list[str]:
    """The trained model's tasks where some answer did not parse: parsed/steps at each step index."""
    lines = []
    for dialect, rows in trained_figures(report).items():
        for row in rows:
            by_index = list(zip(row.get("parsed_by_index", ()), row.get("steps_by_index", ()), strict=True))
            if any(parsed < steps for parsed, steps in by_index):
                counts = " ".join(f"{parsed}/{steps}" for parsed, steps in by_index)
                lines.append(f"- {row['task']} ({dialect}): {counts}")
    if not lines:
        return []
    return ["Answers that parse, trained, by step (parsed/steps at step 1, 2, ...):", "", *lines, ""]


def reading(report: dict[str, Any]) -> list[str]:
    """benchmarks/flywheel_reading.py's figures for the trained model, when the rows type words their tasks ask for."""
    found = report.get("reading")
    if not found:
        return []
    return [
        f"Reading the task's word ({found['rows']} training rows that type it, the word swapped for another of "
        f"{found['words']}): the swapped-in word ranks {found['median_rank']:g} (median; chance "
        f"{found['chance_rank']:g}), first in {percent(found['first'])}; the answers' KL {found['mean_kl']:.2g}.",
        "",
    ]


def markdown_table(report: dict[str, Any]) -> str:
    settings = report["settings"]
    last_seed = settings["heldout_seed"] + settings["heldout_episodes"] - 1
    title = f"Held-out seeds {settings['heldout_seed']}..{last_seed} of each task, random weights → trained:"
    lines = [title, "", *figures_table(report), "", *wrong_kinds(report), *parse_by_step(report), *reading(report)]
    lines += ["| stage | seconds |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.0f} |" for name, seconds in report["stages"].items()]
    curve = report.get("loss") or []
    if curve:
        every = max(1, len(curve) // 10)
        shown = curve[::every] + ([curve[-1]] if (len(curve) - 1) % every else [])
        lines += ["", "| step | loss | token accuracy |", "|---:|---:|---:|"]
        lines += [f"| {point['step']} | {point['loss']:.3f} | {point['token_acc']:.3f} |" for point in shown]
    data = report.get("data") or {}
    if data:
        lines += [
            "",
            f"Trained on {data['rows']['action']} rows exported from {data['runs']} runs "
            f"({', '.join(data['dialects'])}); vocabulary {data['vocab_size']} tokens"
            + (
                f", {data['parameters']['total']:,} parameters ({data['parameters']['vision']:,} in the vision tower)"
                if data.get("parameters")
                else ""
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"
