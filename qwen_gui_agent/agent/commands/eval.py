"""``agent eval grounding DATA``, ``agent eval steps RUNS|EPISODES``: offline scores of a model;
``agent eval miniwob [TASK...]``: the MiniWoB++ benchmark played end to end (agent/eval/miniwob/).

Each takes every shared model flag (the ``ModelFlags`` group), writes its results folder
(``--out``: ``eval.json``, ``results.jsonl``, ``results.json``, ``report.html``) and resumes from it
when run again with the same settings. Exit codes: 0 done; 1 the backend failed (run again to
resume); 2 bad input; 130 interrupted (run again to resume).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.markup import escape

from .eval_options import DEFAULT_OUT, PANEL, FreshOption, LimitOption, OutOption, ParallelOption
from .eval_run import answer_settings, bad_input, model_choice, run_eval
from .flag_groups import with_flag_groups
from .model_options import ModelFlags


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
            rich_help_panel=PANEL,
            help="Folder the img_filename paths are relative to "
            "(default: found beside the annotations, e.g. images/, screenspot_imgs/).",
        ),
    ] = None,
    bbox: Annotated[
        Literal["auto", "xywh", "xyxy"],
        typer.Option(
            "--bbox",
            rich_help_panel=PANEL,
            help="bbox layout: x,y,w,h (ScreenSpot) or x1,y1,x2,y2 (ScreenSpot-Pro); "
            "auto: x1,y1,x2,y2 where an item has img_size.",
        ),
    ] = "auto",
    prompt: Annotated[
        Literal["grounding", "action"],
        typer.Option(
            "--prompt",
            rich_help_panel=PANEL,
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
    choice = model_choice(model, console)
    try:
        loaded = load_grounding_set(data, images=images, box_layout=bbox)
    except FileNotFoundError as error:
        bad_input(console, str(error))
    items = loaded.items[:limit] if limit else loaded.items
    settings = {
        "kind": "grounding",
        "data": str(data.resolve()),
        "prompt": prompt,
        "bbox": bbox,
        "dialect": choice.dialect,
        "coordinates": choice.coordinates,
        "model": answer_settings(choice),
    }
    target = out or DEFAULT_OUT / f"grounding-{data.stem or 'data'}"
    run_eval(
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
            rich_help_panel=PANEL,
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
    choice = model_choice(model, console)
    try:
        loaded = load_step_items(paths)
    except FileNotFoundError as error:
        bad_input(console, str(error))
    items = loaded.items[:limit] if limit else loaded.items
    secrets = _secrets_of(items, console)
    settings = {
        "kind": "steps",
        "data": [str(path.resolve()) for path in paths],
        "tolerance": tolerance,
        "dialect": choice.dialect,
        "coordinates": choice.coordinates,
        "model": answer_settings(choice),
    }
    target = out or DEFAULT_OUT / f"steps-{paths[0].stem or 'data'}"
    run_eval(
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
        int, typer.Option("--episodes", min=1, rich_help_panel=PANEL, help="Episodes (seeds) per task.")
    ] = 10,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", min=0, rich_help_panel=PANEL, help="The first seed; episodes play seeds SEED, SEED+1 ..."
        ),
    ] = 0,
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            min=1,
            rich_help_panel=PANEL,
            help="Episodes at once, one X display each (a local model batches them).",
        ),
    ] = 1,
    displays: Annotated[
        str,
        typer.Option(
            "--displays",
            rich_help_panel=PANEL,
            metavar="auto|:N[,:M...]",
            help="X displays to play on: auto starts one Xvfb per --parallel; :0 plays on your desktop.",
        ),
    ] = "auto",
    zoom: Annotated[
        float,
        typer.Option(
            "--zoom",
            rich_help_panel=PANEL,
            help="Chromium's page zoom: the 160x210 task area shows at ZOOM x SCALE times its size.",
        ),
    ] = 3.0,
    scale: Annotated[
        float, typer.Option("--scale", rich_help_panel=PANEL, help="The screen's device scale factor (2: HiDPI).")
    ] = 1.0,
    policy: Annotated[
        Literal["model", "reference", "selenium"],
        typer.Option(
            "--policy",
            rich_help_panel=PANEL,
            help="model: the backend the model flags name; reference: the reference "
            "policy answering in --dialect through the agent's path; selenium: the reference policy acting through "
            "Selenium (the upper bound).",
        ),
    ] = "model",
    misses: Annotated[
        int,
        typer.Option(
            "--misses",
            min=0,
            rich_help_panel=PANEL,
            metavar="N",
            help="--policy reference: its first N clicks (drags, scrolls) land on blank page, then it plays on: "
            "demonstrations of recovering (agent export keeps the misses as history, never as answers).",
        ),
    ] = 0,
    max_steps: Annotated[
        int, typer.Option("--max-steps", min=1, rich_help_panel=PANEL, help="Model steps per episode.")
    ] = 15,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0.0,
            rich_help_panel=PANEL,
            metavar="SECONDS",
            help="Pause after each action before the next screenshot.",
        ),
    ] = 0.4,
    time_limit: Annotated[
        float | None,
        typer.Option(
            "--time-limit",
            min=1.0,
            rich_help_panel=PANEL,
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
            rich_help_panel=PANEL,
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
    if misses and policy != "reference":
        bad_input(
            console, f"--misses is the reference policy's: add --policy reference or drop --misses (not {policy})"
        )
    if policy == "reference":
        given = [flag for flag in ("backend", "base_url", "script", "adapter") if getattr(model, flag) is not None]
        if given:
            bad_input(console, f"--policy reference answers by itself: drop --{given[0].replace('_', '-')}")
        choice = model_choice(
            replace(model, model=model.model or REFERENCE_MODEL, dialect=model.dialect or "qwen"), console
        )
    elif policy == "model":
        choice = model_choice(model, console)
    info = (
        None
        if choice is None
        else (
            reference_model_info(choice.dialect, choice.coordinates, choice.settings, misses)
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
        misses=misses,
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
