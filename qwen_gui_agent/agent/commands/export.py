"""``agent export RUN... -o DIR`` (training data for ms-swift) and ``agent label RUN --step N ACTION``.

Exit codes: 0 written; 2 bad input (a run that is incomplete, crashed or has no
images, a correction that does not parse or lies off the frame, an output
folder that exists, nothing usable to export). A failed export leaves nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

EXIT_BAD_INPUT = 2


def register(app: typer.Typer) -> None:
    app.command("export", help="Turn recorded runs into fine-tuning data (ms-swift JSONL + images + README).")(
        export_command
    )
    app.command("label", help="Correct a recorded step: the action the model should have chosen.")(label_command)


def export_command(
    runs: Annotated[list[Path], typer.Argument(metavar="RUN...", help="Recorded run directories.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The folder to create (must not exist).")],
    format_: Annotated[
        Literal["swift"],
        typer.Option("--format", help="The training data format: swift (ms-swift's messages/images/objects JSONL)."),
    ] = "swift",
    include_failed: Annotated[
        bool,
        typer.Option(
            "--include-failed", help="Also export runs that did not end in success (failure, stuck, budget ...)."
        ),
    ] = False,
    keep_parse_errors: Annotated[
        bool, typer.Option("--keep-parse-errors", help="Keep steps whose answer did not parse (skipped by default).")
    ] = False,
    keep_declined: Annotated[
        bool,
        typer.Option(
            "--keep-declined/--skip-declined",
            help="Keep steps whose action was declined at --confirm (skipped by default).",
        ),
    ] = False,
    steps: Annotated[
        str | None,
        typer.Option("--steps", metavar="FIRST-LAST", help="Only these steps of each run, e.g. 3-10, 5- or -8."),
    ] = None,
    grounding: Annotated[
        bool, typer.Option("--grounding/--no-grounding", help="Rows from tap steps (grounding queries).")
    ] = True,
) -> None:
    from ..export.swift import ExportError, ExportOptions, export_runs

    errors = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        first, last = _step_range(steps)
        options = ExportOptions(
            include_failed=include_failed,
            keep_parse_errors=keep_parse_errors,
            keep_declined=keep_declined,
            first_step=first,
            last_step=last,
            grounding=grounding,
        )
        result = export_runs(runs, output, options)
    except (ExportError, typer.BadParameter) as error:
        _bad_input(errors, str(error))
    console = Console(soft_wrap=True, highlight=False)
    for name in result.removed_partials:
        console.print(f"removed {escape(name)}, the unfinished folder of an export that was killed")
    console.print(
        f"wrote {result.rows} rows ({result.action_rows} action, {result.grounding_rows} grounding, "
        f"{result.corrected_rows} corrected) and {result.images} images to {escape(str(output))}"
    )
    for note in result.skipped_runs:
        console.print(f"  skipped run {escape(note)}")
    if result.skipped:
        console.print(f"  skipped {len(result.skipped)} step(s); manifest.json says why")
    console.print(f"  train with the command in {escape(str(output / 'README.md'))}")


def label_command(
    run: Annotated[Path, typer.Argument(help="A recorded run directory.")],
    action: Annotated[
        str,
        typer.Argument(
            help="The right action, in canonical text and the step's model frame, e.g. \"click(start_box='(410,220)')\"."
        ),
    ],
    step: Annotated[int, typer.Option("--step", min=1, help="The step to correct (its number in the report).")],
    thought: Annotated[
        str, typer.Option("--thought", help="Reasoning to write before the action in the exported answer.")
    ] = "",
) -> None:
    from ..records.labels import LABELS_FILE, LabelError, add_label
    from ..records.run_files import RunLoadError, load_run

    errors = Console(stderr=True, soft_wrap=True, highlight=False)
    try:
        correction = add_label(load_run(run), step, action, thought)
    except (RunLoadError, LabelError) as error:
        _bad_input(errors, str(error))
    Console(soft_wrap=True, highlight=False).print(
        f"step {step}: {escape(correction.action)} (stored in {escape(str(run / LABELS_FILE))})"
    )


def _step_range(text: str | None) -> tuple[int | None, int | None]:
    if not text:
        return None, None
    first, separator, last = text.partition("-")
    try:
        bounds = (
            int(first) if first.strip() else None,
            (int(last) if last.strip() else None) if separator else int(first),
        )
    except ValueError:
        raise typer.BadParameter(f"--steps {text!r}: write FIRST-LAST, FIRST- or -LAST with step numbers") from None
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise typer.BadParameter(f"--steps {text!r}: the first step comes after the last")
    return bounds


def _bad_input(console: Console, message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)
