"""Asks for every item not yet done, keeps each answer as it comes, and shows a running score.

Items may be submitted concurrently (``parallel`` > 1): a worker pool calls ``evaluate`` and the
main thread alone writes results, so the log never interleaves. Backends that serve one request at
a time (the local GPU model, a script played in order) are given one worker by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .results_log import ResultsLog

log = logging.getLogger(__name__)

ERROR = "error"  # the outcome of an item that could not be asked (unreadable image ...): never stored, tried again


class Identified(Protocol):
    @property
    def id(self) -> str: ...


Record = dict[str, Any]


@dataclass
class Score:
    correct: int = 0
    scored: int = 0
    errors: int = 0

    def add(self, record: Record) -> None:
        if record.get("outcome") == ERROR:
            self.errors += 1
        else:
            self.scored += 1
            self.correct += bool(record.get("correct"))

    def text(self) -> str:
        share = f"{100 * self.correct / self.scored:.1f}%" if self.scored else "-"
        errors = f", {self.errors} error(s)" if self.errors else ""
        return f"score {self.correct}/{self.scored} = {share}{errors}"


def run_items(
    items: Sequence[Identified],
    evaluate: Callable[[Any], Record],
    results: ResultsLog,
    *,
    parallel: int = 1,
    console: Console | None = None,
    title: str = "eval",
) -> list[Record]:
    """Every item's record in item order: those already in ``results`` as they are, the rest asked now.

    A ``KeyboardInterrupt`` stops the asking; what finished before it is kept in ``results``.
    """
    done = results.load()
    records: dict[str, Record] = {item.id: done[item.id] for item in items if item.id in done}
    todo = [item for item in items if item.id not in done]
    score = Score()
    for record in records.values():
        score.add(record)
    console = console or Console(stderr=True)
    if records:
        console.print(f"{title}: {len(records)} of {len(items)} item(s) already done, resuming")
    with _progress(console) as progress:
        task = progress.add_task(title, total=len(items), completed=len(records), score=score.text())
        for record in _answers(todo, evaluate, parallel):
            if record.get("outcome") != ERROR:
                results.append(record)
            records[record["id"]] = record
            score.add(record)
            progress.update(task, advance=1, score=score.text())
    return [records[item.id] for item in items if item.id in records]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[score]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _answers(todo: Sequence[Identified], evaluate: Callable[[Any], Record], parallel: int) -> Iterable[Record]:
    if parallel <= 1:
        for item in todo:
            yield evaluate(item)
        return
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="eval")
    try:
        pending: set[Future[Record]] = set()
        queue = iter(todo)
        for item in queue:  # keep at most two requests per worker in flight
            pending.add(pool.submit(evaluate, item))
            if len(pending) >= 2 * parallel:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                next_item = next(queue, None)
                if next_item is not None:
                    pending.add(pool.submit(evaluate, next_item))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
