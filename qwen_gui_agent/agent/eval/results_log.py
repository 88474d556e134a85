"""The eval's memory: one JSON line per finished item, appended and fsynced, keyed by the item's id.

An eval stopped by Ctrl-C, a crash or ``kill -9`` loses at most the line being written; the next
run reads what is done and asks the model only for the rest. ``eval.json`` beside it holds the
settings the results were made with, so results of one model are never resumed under another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RESULTS_LOG = "results.jsonl"
SETTINGS_FILE = "eval.json"


class SettingsChanged(ValueError):
    """The output folder holds results made with other settings: resuming would mix two evals."""


class ResultsWriteError(RuntimeError):
    """The results folder cannot be written (read-only, a full disk, a file in the way)."""

    def __init__(self, path: Path, error: OSError) -> None:
        super().__init__(f"cannot write {path}: {error.strerror or error}")


class ResultsLog:
    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / RESULTS_LOG

    def load(self) -> dict[str, dict[str, Any]]:
        """The finished items by id; a line cut short by a kill (or otherwise unreadable) is asked again."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return done
        for number, line in enumerate(self.path.read_text(encoding="utf-8", errors="replace").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                log.warning("%s:%d: unreadable result line (cut short?); its item is asked again", self.path, number)
                continue
            if isinstance(record, dict) and isinstance(record.get("id"), str):
                done[record["id"]] = record
        return done

    def append(self, record: Mapping[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                stream.flush()
                os.fsync(stream.fileno())
        except OSError as error:  # a line cut short by a full disk is asked again on resume (load skips it)
            raise ResultsWriteError(self.path, error) from None


def check_settings(directory: Path, settings: Mapping[str, Any], *, fresh: bool = False) -> None:
    """Write ``eval.json``; refuse when the folder holds results made with different settings (unless ``fresh``)."""
    directory = Path(directory)
    path = directory / SETTINGS_FILE
    if fresh:
        for name in (RESULTS_LOG, SETTINGS_FILE):
            (directory / name).unlink(missing_ok=True)
    elif path.exists():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            previous = None
        if previous != json.loads(json.dumps(settings)):
            changed = _differences(previous, settings)
            raise SettingsChanged(
                f"{directory} holds results made with other settings ({changed}); "
                "give another --out, or --fresh to start over"
            )
    temporary = path.with_name(path.name + ".tmp")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(settings, indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise ResultsWriteError(directory, error) from None


def _differences(previous: object, now: Mapping[str, Any]) -> str:
    if not isinstance(previous, dict):
        return f"{SETTINGS_FILE} is unreadable"
    return "; ".join(_changed(previous, json.loads(json.dumps(now)))[:4])


def _changed(previous: dict, now: dict, prefix: str = "") -> list[str]:
    changes: list[str] = []
    for key in sorted(set(previous) | set(now)):
        before, after = previous.get(key), now.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes.extend(_changed(before, after, f"{prefix}{key}."))
        elif before != after:
            changes.append(f"{prefix}{key}: {before!r} then, {after!r} now")
    return changes
