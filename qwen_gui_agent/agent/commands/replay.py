"""``agent report RUN`` and ``agent replay RUN --check | --device ...``.

Exit codes of ``agent replay --check``: 0 every step matches, 1 a step now
differs (details on the console and in ``--junit FILE``), 2 the run cannot be
read or replayed at all, or ``--junit FILE`` cannot be written. ``agent replay --device`` exits 1 on a device
error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from ..replay.macro import MacroSettings
from .device_options import DeviceFlags, open_device_for_cli
from .flag_groups import with_flag_groups

if TYPE_CHECKING:
    from ..records.run_files import RecordedRun
    from ..replay.check import ReplayResult
    from ..replay.macro import MacroResult

RunArgument = Annotated[Path, typer.Argument(help="A recorded run directory (holds run.json and steps.jsonl).")]


def register(app: typer.Typer) -> None:
    app.command("report", help="Write a recorded run's self-contained HTML report.")(report_command)
    app.command("replay", help="Replay a recorded run: offline check against today's code, or as a macro on a device.")(
        with_flag_groups(device=DeviceFlags)(replay_command)
    )


def report_command(
    run: RunArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write (default RUN/report.html).")
    ] = None,
    max_width: Annotated[int, typer.Option(help="Screenshots wider than this are downscaled.", min=64)] = 960,
) -> None:
    from ..records.run_files import RunLoadError
    from ..report.page import ReportSettings, write_report

    console = Console(stderr=True, soft_wrap=True)
    try:
        path = write_report(run, output, ReportSettings(max_width=max_width))
    except RunLoadError as error:
        console.print(f"[red]cannot read the run:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    except OSError as error:  # read-only, full, a file in the way: the output is the problem (2), as elsewhere
        console.print(f"[red]cannot write the report:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    Console(soft_wrap=True).print(f"report written to {escape(str(path))}")


def replay_command(
    run: RunArgument,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Replay offline through today's prompt, parser, frame, "
            "mapping and planner; exit 1 where a device command differs.",
        ),
    ] = False,
    junit: Annotated[Path | None, typer.Option(help="With --check: also write JUnit XML here.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --device: print the commands, send nothing.")
    ] = False,
    delay: Annotated[float, typer.Option(help="With --device: seconds to wait after each step.", min=0)] = 0.5,
    skip_waits: Annotated[
        bool, typer.Option("--skip-waits", help="With --device: drop recorded wait() actions.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per step instead of text.")] = False,
    *,
    device: DeviceFlags,
) -> None:
    console = Console(stderr=True, soft_wrap=True)
    if check == (device.device is not None):
        console.print("[red]choose one:[/red] --check (offline, for CI) or --device SPEC (re-execute as a macro)")
        raise typer.Exit(2)
    run_data = _load(run, console)
    if check:
        raise typer.Exit(_check(run_data, junit, as_json, console))
    settings = MacroSettings(delay_s=delay, dry_run=dry_run, skip_waits=skip_waits)
    raise typer.Exit(_macro(run_data, device, settings, as_json, console))


def _load(run: Path, console: Console) -> RecordedRun:
    from ..records.run_files import RunLoadError, load_run

    try:
        recorded = load_run(run)
    except RunLoadError as error:
        console.print(f"[red]cannot read the run:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    if recorded.truncated:
        console.print("[yellow]the run's last step line is incomplete (killed?): replaying the complete steps[/yellow]")
    if _unfinished(recorded):
        console.print(
            f"[yellow]the run never finished: run.json still says {recorded.info.status!r} (killed?); "
            f"replaying the {len(recorded.steps)} step(s) it recorded[/yellow]"
        )
    return recorded


def _unfinished(run: RecordedRun) -> bool:
    # run.json says "running" until the loop records an end; a run that stays so was killed (or is still going).
    return run.info.status == "running"


def _check(run: RecordedRun, junit: Path | None, as_json: bool, console: Console) -> int:
    from ..replay.check import ReplayError, check_run
    from ..replay.junit import write_junit

    try:
        result = check_run(run)
    except ReplayError as error:
        console.print(f"[red]cannot replay the run:[/red] {escape(str(error))}")
        return 2
    _print_check(result, as_json)
    if junit is not None:
        try:
            write_junit(result, junit)
        except OSError as error:  # 2, not 1: CI reads 1 as "steps differ"
            console.print(
                f"[red]cannot write the JUnit file {escape(str(junit))}:[/red] "
                f"{escape(error.strerror or str(error))}; choose another --junit path"
            )
            return 2
    return 0 if result.ok else 1


def _print_check(result: ReplayResult, as_json: bool) -> None:
    out = Console(highlight=False, soft_wrap=True)
    for check in result.checks:
        if as_json:
            record = {
                "step": check.index,
                "kind": check.kind,
                "passed": check.passed,
                "skipped": check.skipped,
                "caveat": check.caveat,
                "problems": list(check.problems),
                "summary": check.summary,
            }
            typer.echo(json.dumps(record, ensure_ascii=False))  # plain: no colours or wrapping in machine output
            continue
        if check.problems:
            out.print(f"[red]FAIL[/red] step {check.index} ({escape(check.kind)}): {escape(check.summary)}")
            for problem in check.problems:
                out.print("     " + escape(problem).replace("\n", "\n     "))
        elif check.skipped:
            out.print(f"[yellow]skip[/yellow] step {check.index} ({escape(check.kind)}): {escape(check.skipped)}")
        else:
            caveat = f"  [yellow]({escape(check.caveat)})[/yellow]" if check.caveat else ""
            out.print(f"[green]ok[/green]   step {check.index} ({escape(check.kind)}): {escape(check.summary)}{caveat}")
    if not as_json:
        failed = len(result.failures)
        verdict = "[green]all steps match[/green]" if result.ok else f"[red]{failed} step(s) differ[/red]"
        unfinished = " [yellow](the run did not finish: killed?)[/yellow]" if _unfinished(result.run) else ""
        out.print(
            f"{len(result.checks)} step(s) replayed from {escape(str(result.run.directory))}: {verdict}{unfinished}"
        )


def _macro(run: RecordedRun, flags: DeviceFlags, settings: MacroSettings, as_json: bool, console: Console) -> int:
    from ...devices.errors import DeviceError
    from ...tools.canonical import format_action
    from ...tools.errors import ActionParseError
    from ..replay.macro import play_macro

    out = Console(highlight=False, soft_wrap=True)

    def show(result: MacroResult) -> None:
        text = format_action(result.action.action)
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "step": result.action.step,
                        "recorded": result.action.recorded,
                        "action": text,
                        "commands": list(result.commands),
                        "dry_run": result.dry_run,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            verb = "plan" if result.dry_run else "sent"
            out.print(
                f"step {result.action.step}: {escape(text)}  [dim]{verb}: {escape(' | '.join(result.commands))}[/dim]"
            )

    try:
        with open_device_for_cli(flags, os.environ) as live:
            results = play_macro(run, live, settings, on_action=show)
    except ActionParseError as error:  # this device lacks a recorded action (a phone run on a desktop)
        console.print(f"[red]the device cannot replay this run:[/red] {escape(error.describe())}")
        return 1
    except ValueError as error:  # a step the record cannot place on the live screen
        console.print(f"[red]cannot replay the run:[/red] {escape(str(error))}")
        return 2
    except DeviceError as error:
        console.print(f"[red]device error:[/red] {escape(str(error))}")
        return 1
    if not as_json:
        verb = "planned" if settings.dry_run else "replayed"
        out.print(f"{len(results)} action(s) {verb} from {escape(str(run.directory))}")
    return 0
