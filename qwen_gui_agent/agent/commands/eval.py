"""``agent eval grounding DATA``, ``agent eval steps RUNS|EPISODES``: offline scores of a model;
``agent eval miniwob [TASK...]``: the MiniWoB++ benchmark played end to end (agent/eval/miniwob/).

Each takes every shared model flag (the ``ModelFlags`` group), writes its results folder
(``--out``: ``eval.json``, ``results.jsonl``, ``results.json``, ``report.html``) and resumes from it
when run again with the same settings. Exit codes: 0 done; 1 the backend failed (run again to
resume); 2 bad input; 130 interrupted (run again to resume).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from .flag_groups import with_flag_groups
from .model_options import ModelChoice, ModelFlags

EXIT_BACKEND, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130
DEFAULT_OUT = Path("evals")
_PANEL = "Eval"

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        rich_help_panel=_PANEL,
        help="Results folder; running again with the same settings resumes there (default evals/<kind>-<data>).",
    ),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, rich_help_panel=_PANEL, help="Only the first N items (in file order).")
]
ParallelOption = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        min=1,
        rich_help_panel=_PANEL,
        show_default=False,
        help="Items asked at once: concurrent requests (openai; default 4), or batched on one local model (local; "
        "default 1: a batch may break near-ties of the logits differently); a script answers in order.",
    ),
]
FreshOption = Annotated[
    bool, typer.Option("--fresh", rich_help_panel=_PANEL, help="Drop the folder's earlier results and start over.")
]


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Scores of a model: grounding (ScreenSpot layouts), step accuracy, MiniWoB++ end to end.",
        no_args_is_help=True,
    )
    group.command("grounding")(with_flag_groups(model=ModelFlags)(grounding_command))
    group.command("steps")(with_flag_groups(model=ModelFlags)(steps_command))
    group.command("miniwob")(with_flag_groups(model=ModelFlags)(miniwob_command))
    app.add_typer(group, name="eval")


def grounding_command(
    data: Annotated[
        Path,
        typer.Argument(
            metavar="DATA",
            help="A ScreenSpot/ScreenSpot-v2 .json file, a ScreenSpot-Pro folder (annotations/ + images/), "
            "or a folder of annotation files.",
        ),
    ],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            rich_help_panel=_PANEL,
            help="Folder the img_filename paths are relative to "
            "(default: found beside the annotations, e.g. images/, screenspot_imgs/).",
        ),
    ] = None,
    bbox: Annotated[
        Literal["auto", "xywh", "xyxy"],
        typer.Option(
            "--bbox",
            rich_help_panel=_PANEL,
            help="bbox layout: x,y,w,h (ScreenSpot) or x1,y1,x2,y2 (ScreenSpot-Pro); "
            "auto: x1,y1,x2,y2 where an item has img_size.",
        ),
    ] = "auto",
    prompt: Annotated[
        Literal["grounding", "action"],
        typer.Option(
            "--prompt",
            rich_help_panel=_PANEL,
            help="grounding: the dialect's plain find-this prompt (as tap: steps); "
            "action: the full agent prompt with 'click on ...' as the task.",
        ),
    ] = "grounding",
    out: OutOption = None,
    limit: LimitOption = None,
    parallel: ParallelOption = None,
    fresh: FreshOption = False,
    *,
    model: ModelFlags,
) -> None:
    """Grounding accuracy: the share of clicks that land inside the described element's box."""
    from ..eval.grounding.data import load_grounding_set
    from ..eval.grounding.question import GroundingAsker

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    choice = _model_choice(model, console)
    try:
        loaded = load_grounding_set(data, images=images, box_layout=bbox)
    except FileNotFoundError as error:
        _bad_input(console, str(error))
    items = loaded.items[:limit] if limit else loaded.items
    settings = {
        "kind": "grounding",
        "data": str(data.resolve()),
        "prompt": prompt,
        "bbox": bbox,
        "dialect": choice.dialect,
        "coordinates": choice.coordinates,
        "model": _answer_settings(choice),
    }
    target = out or DEFAULT_OUT / f"grounding-{data.stem or 'data'}"
    _run(
        console,
        target,
        settings,
        choice,
        items,
        loaded.problems,
        parallel=parallel,
        fresh=fresh,
        title=f"grounding: {data.name}",
        asker=lambda backend, dialect, frames: GroundingAsker(backend, dialect, frames, prompt),
    )


def steps_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="RUNS|EPISODES",
            help="Run directories written by `agent run`, folders of them, or "
            "AndroidControl-style episode files (.json/.jsonl).",
        ),
    ],
    tolerance: Annotated[
        float,
        typer.Option(
            "--tolerance",
            min=0.0,
            rich_help_panel=_PANEL,
            help="Where only a point is known: a click counts within this share of the screen's diagonal.",
        ),
    ] = 0.04,
    out: OutOption = None,
    limit: LimitOption = None,
    parallel: ParallelOption = None,
    fresh: FreshOption = False,
    *,
    model: ModelFlags,
) -> None:
    """Step accuracy: for each recorded step, does the model choose the same action (and the same place)?"""
    from ..eval.steps.data import load_step_items
    from ..eval.steps.question import StepAsker

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    choice = _model_choice(model, console)
    try:
        loaded = load_step_items(paths)
    except FileNotFoundError as error:
        _bad_input(console, str(error))
    items = loaded.items[:limit] if limit else loaded.items
    secrets = _secrets_of(items, console)
    settings = {
        "kind": "steps",
        "data": [str(path.resolve()) for path in paths],
        "tolerance": tolerance,
        "dialect": choice.dialect,
        "coordinates": choice.coordinates,
        "model": _answer_settings(choice),
    }
    target = out or DEFAULT_OUT / f"steps-{paths[0].stem or 'data'}"
    _run(
        console,
        target,
        settings,
        choice,
        items,
        loaded.problems,
        parallel=parallel,
        fresh=fresh,
        title=f"steps: {paths[0].name}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else ""),
        asker=lambda backend, dialect, frames: StepAsker(backend, dialect, frames, tolerance, secrets),
    )


def _secrets_of(items: Sequence[Any], console: Console) -> Any:
    """The values of the secrets the items name, from the environment as ``agent run`` reads them: an answer that
    repeats one (read off a screenshot) is stored and shown with the placeholder instead."""
    from ..eval.steps.data import secret_names
    from ..runtime.secrets import Secrets

    names = secret_names(items)
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        console.print(
            f"[yellow]note:[/yellow] the steps name secret(s) {escape(', '.join(missing))} that are not set "
            "in the environment: an answer repeating their value cannot be redacted (set them as for "
            "`agent run`)"
        )
    return Secrets({name: os.environ[name] for name in names if os.environ.get(name)})


def miniwob_command(
    tasks: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TASK]...",
            help="MiniWoB++ tasks (click-button, enter-text ...); default: the 32 tasks of the "
            "reference policy, every kind of action (docs/eval.md lists them).",
            show_default=False,
        ),
    ] = None,
    episodes: Annotated[
        int, typer.Option("--episodes", min=1, rich_help_panel=_PANEL, help="Episodes (seeds) per task.")
    ] = 10,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", min=0, rich_help_panel=_PANEL, help="The first seed; episodes play seeds SEED, SEED+1 ..."
        ),
    ] = 0,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            min=1,
            rich_help_panel=_PANEL,
            help="Episodes at once, one X display each (a local model batches them).",
        ),
    ] = 1,
    displays: Annotated[
        str,
        typer.Option(
            "--displays",
            rich_help_panel=_PANEL,
            metavar="auto|:N[,:M...]",
            help="X displays to play on: auto starts one Xvfb per --parallel; :0 plays on your desktop.",
        ),
    ] = "auto",
    zoom: Annotated[
        float,
        typer.Option(
            "--zoom",
            rich_help_panel=_PANEL,
            help="Chromium's page zoom: the 160x210 task area shows at ZOOM x SCALE times its size.",
        ),
    ] = 3.0,
    scale: Annotated[
        float, typer.Option("--scale", rich_help_panel=_PANEL, help="The screen's device scale factor (2: HiDPI).")
    ] = 1.0,
    policy: Annotated[
        Literal["model", "reference", "selenium"],
        typer.Option(
            "--policy",
            rich_help_panel=_PANEL,
            help="model: the backend the model flags name; reference: the reference "
            "policy answering in --dialect through the agent's path; selenium: the reference policy acting through "
            "Selenium (the upper bound).",
        ),
    ] = "model",
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, rich_help_panel=_PANEL, help="Model steps per episode.")
    ] = 15,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0.0,
            rich_help_panel=_PANEL,
            metavar="SECONDS",
            help="Pause after each action before the next screenshot.",
        ),
    ] = 0.4,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            min=1.0,
            rich_help_panel=_PANEL,
            metavar="SECONDS",
            show_default=False,
            help="Let the page end an episode after SECONDS, as MiniWoB++'s own timer does (default: no timer).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            rich_help_panel=_PANEL,
            show_default=False,
            help="Results folder; running again with the same settings resumes there "
            "(default evals/miniwob-<policy>[-<dialect>]-z<zoom>-s<scale>).",
        ),
    ] = None,
    fresh: FreshOption = False,
    *,
    model: ModelFlags,
) -> None:
    """MiniWoB++ end to end: real web tasks in Chromium, played through the agent's own desktop device."""
    from ..eval.miniwob.command import MiniwobCall, run_miniwob
    from ..eval.miniwob.policies import PlaySettings, reference_model_info
    from ..eval.miniwob.reference.backend import REFERENCE_MODEL

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    choice = None
    if policy == "reference":
        given = [flag for flag in ("backend", "base_url", "script", "adapter") if getattr(model, flag) is not None]
        if given:
            _bad_input(console, f"--policy reference answers by itself: drop --{given[0].replace('_', '-')}")
        choice = _model_choice(
            replace(model, model=model.model or REFERENCE_MODEL, dialect=model.dialect or "qwen"), console
        )
    elif policy == "model":
        choice = _model_choice(model, console)
    info = (
        None
        if choice is None
        else (
            reference_model_info(choice.dialect, choice.coordinates, choice.settings)
            if policy == "reference"
            else choice.public_dict()
        )
    )
    play = PlaySettings(
        policy=policy,
        max_steps=max_steps,
        settle_s=settle,
        dialect=choice.dialect if choice else None,
        coordinates=choice.coordinates if choice else None,
        backend=choice.settings if choice else None,
        model_info=info,
    )
    call = MiniwobCall(
        tasks=list(tasks or []),
        episodes=episodes,
        first_seed=seed,
        parallel=parallel,
        displays=displays,
        zoom=zoom,
        scale=scale,
        play=play,
        time_limit_s=time_limit,
        out=out,
        fresh=fresh,
        environ=dict(os.environ),
    )
    raise typer.Exit(run_miniwob(call, console))


# Model settings that do not change an answer: results made under other values are still resumed.
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


def _answer_settings(choice: ModelChoice) -> dict[str, Any]:
    return {key: value for key, value in choice.public_dict().items() if key not in _NOT_ANSWER_SETTINGS}


def _model_choice(flags: ModelFlags, console: Console) -> ModelChoice:
    from .model_options import resolve_model_settings
    from .run_start import check_backend_inputs

    try:
        choice = resolve_model_settings(flags, environ=dict(os.environ))
        check_backend_inputs(choice.settings)  # a missing script or model folder is bad input, not a failed run
    except typer.BadParameter as error:
        _bad_input(console, str(error))
    return choice


def _run(
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
        _bad_input(console, f"nothing to evaluate in {title.partition(': ')[2]}: {why}")
    try:
        check_settings(out, settings, fresh=fresh)
    except (SettingsChanged, ResultsWriteError) as error:
        _bad_input(console, f"{error}" + ("; choose another --out" if isinstance(error, ResultsWriteError) else ""))
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
        _bad_input(console, str(error))
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
        _bad_input(
            console,
            f"{error}; what finished is kept in {out}: free some space and run the same command "
            "again to resume, or choose another --out",
        )
    try:
        outcome = write_outputs(out, title, settings, records, problems)
    except ResultsWriteError as error:
        _bad_input(console, f"{error}; free some space and run the same command again (nothing is asked twice)")
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


def _bad_input(console: Console, message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(EXIT_BAD_INPUT)
