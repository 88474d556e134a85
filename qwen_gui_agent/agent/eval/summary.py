"""Accuracy overall and per group, from the per-item records and the data problems.

Accuracy is correct / scored: every item the model was asked about counts, an answer that could not
be read (``unparsed``) as wrong, as the published scorers count a wrong format. Items that could not
be asked at all (a corrupt line, a missing image) are ``errors``: listed with file and line, counted
apart, and in ``accuracy_with_errors`` as wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .items import DataProblem
from .runner import ERROR

# Group keys whose cross with ui_type the published tables show (mobile text, mobile icon ...).
MAIN_GROUPS = ("group", "platform", "kind")  # ScreenSpot-Pro by group, ScreenSpot by platform


def tally(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    records = list(records)
    correct = sum(bool(record.get("correct")) for record in records)
    return {"items": len(records), "correct": correct, "accuracy": _share(correct, len(records))}


def summarize(records: Sequence[dict[str, Any]], problems: Sequence[DataProblem]) -> dict[str, Any]:
    scored = [record for record in records if record.get("outcome") != ERROR]
    failed = [record for record in records if record.get("outcome") == ERROR]
    overall = tally(scored)
    errors = len(failed) + len(problems)
    return {
        **overall,
        "errors": errors,
        "accuracy_with_errors": _share(overall["correct"], overall["items"] + errors),
        "outcomes": dict(sorted(Counter(str(record.get("outcome")) for record in scored).items())),
        "groups": breakdown(scored),
    }


def breakdown(records: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{group key: {value: tally}} for each key the items carry, plus main key x ui_type."""
    keys: list[str] = []
    for record in records:
        keys.extend(key for key in record.get("groups", {}) if key not in keys)
    main = next((key for key in MAIN_GROUPS if key in keys), None)
    if main is not None and "ui_type" in keys:
        keys.append(f"{main}/ui_type")
    result: dict[str, dict[str, dict[str, Any]]] = {}
    for key in keys:
        values: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            value = _group_value(record.get("groups", {}), key)
            if value is not None:
                values.setdefault(value, []).append(record)
        result[key] = {value: tally(members) for value, members in sorted(values.items())}
    return result


def _group_value(groups: dict[str, str], key: str) -> str | None:
    if "/" in key:
        parts = [groups.get(part) for part in key.split("/")]
        return "/".join(parts) if all(part is not None for part in parts) else None  # type: ignore[arg-type]
    return groups.get(key)


def misses(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The scored items the model got wrong, in item order."""
    return [record for record in records if record.get("outcome") != ERROR and not record.get("correct")]


def error_list(records: Sequence[dict[str, Any]], problems: Sequence[DataProblem]) -> list[dict[str, Any]]:
    listed = [{"id": p.item_id, "file": p.file, "line": p.line, "message": p.message} for p in problems]
    for record in records:
        if record.get("outcome") == ERROR:
            file, _, line = str(record.get("where", "")).rpartition(":")
            listed.append(
                {
                    "id": record["id"],
                    "file": file,
                    "line": int(line) if line.isdigit() else 0,
                    "message": record.get("error", ""),
                }
            )
    return listed


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0
