"""An eval's results folder: ``results.json`` (scores, errors, misses, every item) and ``report.html``."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .items import DataProblem
from .report_page import render_page
from .results_log import ResultsWriteError
from .summary import error_list, misses, summarize

RESULTS_JSON = "results.json"
REPORT_HTML = "report.html"


@dataclass(frozen=True)
class EvalOutcome:
    summary: dict[str, Any]
    errors: list[dict[str, Any]]
    misses: list[dict[str, Any]]
    results_path: Path
    report_path: Path


def write_outputs(
    directory: Path,
    title: str,
    settings: Mapping[str, Any],
    records: Sequence[dict[str, Any]],
    problems: Sequence[DataProblem],
) -> EvalOutcome:
    summary = summarize(records, problems)
    errors = error_list(records, problems)
    missed = misses(records)
    document = {
        "title": title,
        "settings": dict(settings),
        "summary": summary,
        "errors": errors,
        "misses": [record["id"] for record in missed],
        "items": list(records),
    }
    results_path = _replace(directory / RESULTS_JSON, json.dumps(document, indent=1, ensure_ascii=False))
    facts = {key: value for key, value in settings.items() if not isinstance(value, (dict, list))}
    report_path = _replace(directory / REPORT_HTML, render_page(title, facts, summary, errors, missed))
    return EvalOutcome(
        summary=summary, errors=errors, misses=missed, results_path=results_path, report_path=report_path
    )


def _replace(path: Path, text: str) -> Path:
    """Written beside and renamed into place: a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ResultsWriteError(path, error) from None
    return path
