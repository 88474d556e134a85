"""How ``agent eval grounding`` and ``agent eval steps`` run once their items are loaded.

``model_choice`` resolves the model flags (a bad value is bad input, exit 2); ``run_eval`` asks
every item through one backend the workers share, keeps each answer in the results folder (so a
rerun resumes), writes ``results.json`` and ``report.html`` and prints the scores. ``bad_input`` and
the ``EXIT_*`` codes are the exits commands/eval.py's docstring lists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from .model_options import ModelFlags
from .model_settings import ModelChoice, resolve_model_settings

EXIT_BACKEND, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


# Model settings that do not change an answer: results made under other values are still resumed.
NOT_ANSWER_SETTINGS = frozenset(
    {
        "script",
        "base_url",
        "timeout_s",
        "max_retries",
        "retry_initial_s",
        "retry_max_wait_s",
        "api_key_set",
        "torch_device",
        "fast",
        "source",
        "attn_implementation",
    }
)


def answer_settings(choice: ModelChoice) -> dict[str, Any]:
    return {key: value for key, value in choice.public_dict().items() if key not in NOT_ANSWER_SETTINGS}


def model_choice(flags: ModelFlags, console: Console) -> ModelChoice:
    from .run_start import check_backend_inputs

    try:
        choice = resolve_model_settings(flags, environ=dict(os.environ))
        check_backend_inputs(choice.settings)  # a missing script or model folder is bad input, not a failed run
    except typer.BadParameter as error:
        bad_input(console, str(error))
    return choice


def run_eval(
    console: Console,
    out: Path,
    settings: dict[str, Any],
    choice: ModelChoice,
    items: Sequence[Any],
    problems: Sequence[Any],
    *,
    parallel: int | None,
    fresh: bool,
    title: str,
    asker: Callable[[Any, Any, Any], Callable[[Any], dict[str, Any]]],
) -> NoReturn:
    from ...tools.dialects import get_dialect
    from ..backends import create_backend
    from ..backends.base import BackendError, ModelFilesRefused
    from ..eval.asking import FrameSettings
    from ..eval.outputs import write_outputs
    from ..eval.results_log import ResultsLog, ResultsWriteError, SettingsChanged, check_settings
    from ..eval.runner import run_items

    for problem in problems:
        console.print(f"[yellow]data error:[/yellow] {escape(problem.describe())}")
    if not items:  # nothing to ask: say so instead of writing an empty score
        why = (
            f"every item has a data error ({len(problems)} listed above): fix them"
            if problems
            else "it holds no item to ask about"
        )
        bad_input(console, f"nothing to evaluate in {title.partition(': ')[2]}: {why}")
    try:
        check_settings(out, settings, fresh=fresh)
    except (SettingsChanged, ResultsWriteError) as error:
        bad_input(console, f"{error}" + ("; choose another --out" if isinstance(error, ResultsWriteError) else ""))
    model = choice.settings
    # openai: requests in flight together (the server batches); local: one model whose scheduler batches the
    # waiting items (agent/backends/batching.py); scripted: one script, answered in order.
    workers = {"openai": parallel or 4, "local": parallel or 1}.get(model.kind, 1)
    frames = FrameSettings(frame=model.frame, max_new_tokens=model.max_new_tokens)
    dialect = get_dialect(choice.dialect, coordinates=choice.coordinates)
    try:
        with _shared(create_backend(model), model.kind, workers) as backend:
            records = run_items(
                items, asker(backend, dialect, frames), ResultsLog(out), parallel=workers, console=console, title=title
            )
    except ModelFilesRefused as error:  # damaged or unsafe model files: input to fix, not a run to resume
        bad_input(console, str(error))
    except BackendError as error:
        console.print(
            f"[red]error:[/red] {escape(str(error))}\nwhat finished is kept in {escape(str(out))}; "
            "run the same command again to resume"
        )
        raise typer.Exit(EXIT_BACKEND) from None
    except KeyboardInterrupt:
        console.print(f"interrupted: what finished is kept in {escape(str(out))}; run the same command again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except ResultsWriteError as error:  # the disk filled up or went read-only mid-eval: 2, like a bad --out
        bad_input(
            console,
            f"{error}; what finished is kept in {out}: free some space and run the same command "
            "again to resume, or choose another --out",
        )
    try:
        outcome = write_outputs(out, title, settings, records, problems)
    except ResultsWriteError as error:
        bad_input(console, f"{error}; free some space and run the same command again (nothing is asked twice)")
    _print_summary(outcome.summary, console)
    console.print(f"results: {escape(str(outcome.results_path))}\nreport:  {escape(str(outcome.report_path))}")
    raise typer.Exit(0)


def _shared(backend: Any, kind: str, workers: int) -> Any:
    """The backend the workers share: a local model behind the batching scheduler when several ask at once."""
    if kind == "local" and workers > 1:
        from ..backends.batching import BatchingBackend

        return BatchingBackend(backend, max_batch=workers)  # closing it closes the model too
    return backend


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    from rich.table import Table

    console.print(
        f"[bold]accuracy {100 * summary['accuracy']:.1f}%[/bold] ({summary['correct']}/{summary['items']}), "
        f"{summary['errors']} error(s)"
    )
    for key, values in summary["groups"].items():
        table = Table(title=f"by {key}", title_justify="left")
        for column in (key, "correct", "accuracy"):
            table.add_column(column)
        for value, tally in values.items():
            table.add_row(escape(value), f"{tally['correct']}/{tally['items']}", f"{100 * tally['accuracy']:.1f}%")
        console.print(table)


def bad_input(console: Console, message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)
