"""The loop flags of ``agent run`` (one run or a suite): budgets, pacing, confirmation, the answer cap.

``LoopFlags`` is the flag group (flag_groups.py); ``resolve_loop_settings`` turns it, the task
file and the environment into the ``LoopSettings`` a run takes, its frame bounds those of the
model's settings. Each value comes from the first of: the flag, the task file, its environment
variable, the default. The environment is read only here, at the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
    from ...tasks.schema import Task
    from ..backends.settings import BackendSettings
    from ..runtime.session import LoopSettings

ENV_MAX_STEPS = "AGENT_MAX_STEPS"
ENV_TIMEOUT = "AGENT_TIMEOUT"
DEFAULT_MAX_STEPS = 30
PANEL = "Run"
Value = TypeVar("Value")


@dataclass(frozen=True)
class LoopFlags:
    """How each run is bounded and paced, as given on the command line (None = not given)."""

    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps",
            min=1,
            rich_help_panel=PANEL,
            help=f"Model steps per goal (task max_steps; env {ENV_MAX_STEPS}; default {DEFAULT_MAX_STEPS}).",
        ),
    ] = None
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            rich_help_panel=PANEL,
            metavar="DURATION",
            help=f"Wall time for the whole run: seconds or 90s, 5m, 1h (task timeout; env {ENV_TIMEOUT}).",
        ),
    ] = None
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", rich_help_panel=PANEL, help="Print each action's device commands instead of sending them."
        ),
    ] = False
    confirm: Annotated[
        bool,
        typer.Option(
            "--confirm", rich_help_panel=PANEL, help="Ask before each action: y(es) / n(o) / e(dit) / q(uit)."
        ),
    ] = False
    stuck_after: Annotated[
        int | None,
        typer.Option(
            "--stuck-after",
            min=0,
            rich_help_panel=PANEL,
            help="End as stuck after the same action on an unchanged screen this many times (0 = never; default 3).",
        ),
    ] = None
    max_parse_errors: Annotated[
        int | None,
        typer.Option(
            "--max-parse-errors",
            min=0,
            rich_help_panel=PANEL,
            help="Unusable answers fed back in a row before the run fails (default 3).",
        ),
    ] = None
    history_images: Annotated[
        int | None,
        typer.Option(
            "--history-images",
            min=1,
            rich_help_panel=PANEL,
            help="Screenshots in each prompt, the current one included (default: the dialect's).",
        ),
    ] = None
    settle: Annotated[
        float | None,
        typer.Option(
            "--settle",
            min=0.0,
            rich_help_panel=PANEL,
            metavar="SECONDS",
            help="Pause after acting, so the screen redraws before the next screenshot (default 0.5).",
        ),
    ] = None
    max_answer_chars: Annotated[
        int | None,
        typer.Option(
            "--max-answer-chars",
            min=1,
            rich_help_panel=PANEL,
            help="Longer model answers are cut to this many characters, noted as cut (default 20000).",
        ),
    ] = None


def resolve_loop_settings(
    flags: LoopFlags, task: Task, backend: BackendSettings, environ: Mapping[str, str]
) -> LoopSettings:
    """The run's ``LoopSettings``; a bad value is a ``typer.BadParameter`` naming where it came from."""
    from dataclasses import replace

    from ...tasks.schema import duration_seconds
    from ..runtime.session import LoopSettings

    try:
        timeout_s = duration_seconds(flags.timeout) if flags.timeout is not None else None
    except ValueError as error:
        raise typer.BadParameter(f"--timeout: {error}") from None
    settings = LoopSettings(
        max_steps=flags.max_steps or task.max_steps or _from_env(environ, ENV_MAX_STEPS, int) or DEFAULT_MAX_STEPS,
        timeout_s=timeout_s or task.timeout or _from_env(environ, ENV_TIMEOUT, duration_seconds),
        image_history=flags.history_images,
        frame=backend.frame,
        dry_run=flags.dry_run,
        confirm=flags.confirm,
    )
    if flags.stuck_after is not None:
        settings = replace(settings, stuck_after=flags.stuck_after)
    if flags.max_parse_errors is not None:
        settings = replace(settings, max_parse_errors=flags.max_parse_errors)
    if flags.settle is not None:
        settings = replace(settings, settle_s=flags.settle)
    if flags.max_answer_chars is not None:
        settings = replace(settings, max_answer_chars=flags.max_answer_chars)
    return settings


def _from_env(environ: Mapping[str, str], name: str, convert: Callable[[str], Value]) -> Value | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return convert(raw)
    except ValueError as error:
        raise typer.BadParameter(f"{name}={raw!r}: {error}") from None
