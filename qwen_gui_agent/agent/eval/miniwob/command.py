"""``agent eval miniwob``: what the command does once its flags are read (commands/eval.py reads them).

Checks what must be installed, the tasks and the view (bad input exits 2 with one line), starts
the displays (or uses the ones named), resumes from the results folder (episodes already in
``results.jsonl`` are not played again), plays the rest on the display pool, and writes
``results.json``, ``report.html`` and the table. Exit codes: 0 done; 1 the model backend failed
(run again to resume); 2 bad input or something missing; 130 interrupted (run again to resume).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from ...backends.base import BackendError
from ...runtime.runner import SignalInterrupt
from ...suite.guard import StopSignal
from ..results_log import ResultsLog, SettingsChanged, check_settings
from .browser import BrowserWindow
from .displays import DisplayError, check_display, parse_displays, xvfb_displays
from .episode import SCORED, EpisodeResult, episode_id
from .policies import PlaySettings, SharedModel, player
from .reference.catalog import SOLVERS
from .report import write_report
from .requirements import BenchmarkUnavailable, BrowserBinaries, check_packages, check_x_tools, find_browser
from .results import console_table, summarize, write_results
from .runner import run_episodes
from .task_env import TaskEnv
from .tasks import UnknownTask, resolve_tasks
from .view import View

EXIT_OK, EXIT_BACKEND, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class MiniwobCall:
    tasks: list[str]
    episodes: int
    first_seed: int
    parallel: int
    displays: str  # "auto" or ":N[,:M...]"
    zoom: float
    scale: float
    play: PlaySettings
    time_limit_s: float | None
    out: Path | None
    fresh: bool
    environ: Mapping[str, str]


class BadInput(Exception):
    """Input the eval cannot run with; the message is the one line to print."""


def run_miniwob(call: MiniwobCall, console: Console) -> int:
    try:
        prepared = _prepare(call)
    except (BadInput, BenchmarkUnavailable, UnknownTask, DisplayError, SettingsChanged, ValueError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        return EXIT_BAD_INPUT
    tasks, view, binaries, out, settings = prepared
    log = ResultsLog(out)
    done = log.load()
    seeds = range(call.first_seed, call.first_seed + call.episodes)
    todo = [(task, seed) for task in tasks for seed in seeds if episode_id(task, seed) not in done]
    console.print(
        f"miniwob: {len(tasks)} tasks x {call.episodes} seeds, policy {call.play.policy}"
        + (f" ({call.play.dialect})" if call.play.dialect else "")
        + f", zoom {view.zoom:g}, scale {view.scale:g}; {len(todo)} to play, "
        f"{len(tasks) * call.episodes - len(todo)} done before; results in {escape(str(out))}"
    )
    shared = (
        SharedModel(call.play.backend, parallel=call.parallel)
        if call.play.policy == "model" and call.play.backend is not None
        else None
    )
    stop = StopSignal()
    started = time.time()

    play = player(call.play, out / RUNS_FOLDER, stop, shared)

    def play_relative(env: TaskEnv, seed: int) -> EpisodeResult:
        result = play(env, seed)
        if result.run_dir is None:
            return result
        # Run directories relative to the results folder, which can then be moved or zipped whole.
        return dataclasses.replace(result, run_dir=os.path.relpath(result.run_dir, out))

    def on_result(result: EpisodeResult) -> None:
        if result.outcome == SCORED:
            log.append(result.record())
        console.print(_episode_line(result))

    try:
        with _sigterm_as_interrupt(), _displays(call, view) as displays:
            report = run_episodes(
                todo,
                displays,
                parallel=call.parallel,
                stop=stop,
                on_result=on_result,
                open_window=lambda display: BrowserWindow(display, view, binaries),
                open_env=lambda task, window: TaskEnv(task, window, time_limit_s=call.time_limit_s),
                play=play_relative,
            )
    except (DisplayError, BackendError) as error:
        console.print(f"[red]error:[/red] {escape(str(error))}")
        return EXIT_BACKEND
    finally:
        if shared is not None:
            shared.close()
    played = {result.id: result.record() for result in report.results if result.outcome == SCORED}
    records = [record for record in {**done, **played}.values() if record["task"] in tasks and record["seed"] in seeds]
    records.sort(key=lambda record: (tasks.index(record["task"]), record["seed"]))
    notes = _notes(report, time.time() - started)
    summary = summarize(records, tasks, {task: SOLVERS[task].kinds for task in tasks if task in SOLVERS})
    title = (
        f"MiniWoB++: policy {call.play.policy}"
        + (f", {call.play.dialect}" if call.play.dialect else "")
        + f", zoom {view.zoom:g}, scale {view.scale:g}"
    )
    errors = [result.record() for result in report.results if result.outcome != SCORED]
    write_results(
        out,
        {
            "title": title,
            "settings": settings,
            "summary": summary,
            "notes": notes,
            "errors": errors,
            "episodes": records,
        },
    )
    facts = {
        "policy": call.play.policy,
        "dialect": call.play.dialect or "-",
        "view": _view_text(view),
        "episodes": f"seeds {call.first_seed}..{call.first_seed + call.episodes - 1} of each task",
        "max steps": call.play.max_steps,
        "settle": f"{call.play.settle_s:g} s",
        "page timer": f"{call.time_limit_s:g} s"
        if call.time_limit_s is not None
        else "off (the step budget bounds an episode)",
    }
    write_report(out, title, facts, summary, records, notes)
    console.print(console_table(summary, title))
    for note in notes:
        console.print(escape(note))
    console.print(f"results: {escape(str(out / 'results.json'))}\nreport:  {escape(str(out / 'report.html'))}")
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_BACKEND if report.halted else EXIT_OK


def _prepare(call: MiniwobCall) -> tuple[list[str], View, BrowserBinaries, Path, dict[str, Any]]:
    check_packages()
    binaries = find_browser(call.environ)
    check_x_tools(start_displays=call.displays == "auto")
    if call.displays != "auto":
        named = parse_displays(call.displays)
        for display in named:
            check_display(display)
        if call.parallel > len(named):
            raise BadInput(
                f"--parallel {call.parallel} needs as many displays; --displays names {len(named)} "
                "(or use --displays auto)"
            )
    tasks = resolve_tasks(call.tasks, reference=call.play.policy != "model")
    view = View(zoom=call.zoom, scale=call.scale)
    settings = _settings(call, view)
    out = call.out or Path("evals") / _default_folder(call)
    check_settings(out, settings, fresh=call.fresh)
    return tasks, view, binaries, out, settings


def _settings(call: MiniwobCall, view: View) -> dict[str, Any]:
    """What the results depend on: a folder holding results made otherwise is not resumed."""
    play = call.play
    return {
        "kind": "miniwob",
        "policy": play.policy,
        **({"misses": play.misses} if play.misses else {}),  # absent when 0: older folders still resume
        "dialect": play.dialect,
        "coordinates": play.coordinates,
        "model": _answer_settings(play.model_info) if play.policy == "model" else None,
        "view": view.describe(),
        "max_steps": play.max_steps,
        "settle_s": play.settle_s,
        "time_limit_s": call.time_limit_s,
    }


# Model settings that do not change an answer (as commands/eval_run.py's list): results are resumed under others.
_NOT_ANSWER_SETTINGS = frozenset(
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


def _answer_settings(model_info: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (model_info or {}).items() if key not in _NOT_ANSWER_SETTINGS}


def _default_folder(call: MiniwobCall) -> str:
    parts = [
        "miniwob",
        call.play.policy,
        *([call.play.dialect] if call.play.dialect else []),
        *([f"m{call.play.misses}"] if call.play.misses else []),
        f"z{call.zoom:g}",
        f"s{call.scale:g}",
    ]
    return "-".join(parts)


@contextlib.contextmanager
def _displays(call: MiniwobCall, view: View) -> Iterator[list[str]]:
    if call.displays == "auto":
        with xvfb_displays(call.parallel, view.screen_size()) as started:
            yield started
    else:
        yield parse_displays(call.displays)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the eval as Ctrl-C does: running episodes end as interrupted, the browsers and the Xvfb
    servers are closed, the results written (as ``agent run`` does)."""

    def interrupt(signum: int, frame: object) -> None:
        raise SignalInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _episode_line(result: EpisodeResult) -> str:
    if result.outcome != SCORED:
        return f"{escape(result.task)} seed {result.seed}: [yellow]{escape(result.outcome)}[/] {escape(result.message)}"
    mark = "[green]success[/]" if result.success else "[red]failure[/]"
    return (
        f"{escape(result.task)} seed {result.seed}: {mark} reward {result.raw_reward:g} after {result.steps} "
        f"steps ({result.seconds:.1f} s)"
    )


def _notes(report: Any, seconds: float) -> list[str]:
    notes = [f"this session: {len(report.results)} episodes in {seconds:.0f} s"]
    errors = [result for result in report.results if result.outcome != SCORED]
    if errors:
        notes.append(
            f"{len(errors)} episode(s) ended in an error or were interrupted (not scored; run the same "
            "command again to play them)"
        )
    if report.not_run:
        notes.append(f"{len(report.not_run)} episode(s) not played (run the same command again to play them)")
    for display, reason in report.retired.items():
        notes.append(f"display {display} was retired: {reason}")
    if report.halted:
        notes.append(f"stopped handing out episodes: {report.halted}")
    return notes


def _view_text(view: View) -> str:
    return (
        f"page zoom {view.zoom:g} x device scale factor {view.scale:g}: the 160x210 CSS px task area is "
        f"captured as {round(160 * view.pixels_per_css)}x{round(210 * view.pixels_per_css)} px"
    )
