"""``agent mcp``: the agent and its devices as an MCP server, for Claude Code, Cursor or any MCP client.

    agent mcp --allow act --base-url http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct
    agent mcp --transport http --port 8765 --device android:emulator-5554 --allow read

The device and model flags are those of ``agent run``; the server's own are the
transport, the policy (``--allow``) and the declared secrets (docs/mcp.md).
Everything is read and checked here, before the server starts: a bad flag,
a missing secret or a missing ``[mcp]`` extra exits 2 with one line.

Exit codes: 0 the server stopped (its client left, or SIGINT/SIGTERM); 1 the
HTTP address cannot be listened on; 2 bad input.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.console import Console

from .device_options import DeviceFlags
from .flag_groups import with_flag_groups
from .model_options import ModelFlags

if TYPE_CHECKING:
    from ..mcp.settings import ServedModel
    from ..runtime.secrets import Secrets
    from ..runtime.session import LoopSettings

_PANEL = "MCP server"
DEFAULT_PORT = 8765
LOOPBACK_NAMES = ("localhost",)


def register(app: typer.Typer) -> None:
    app.command(
        "mcp",
        help="Serve the agent and its devices over the Model Context Protocol (stdio or loopback "
        "HTTP), for Claude Code, Cursor or any MCP client.",
    )(with_flag_groups(device=DeviceFlags, model=ModelFlags)(mcp_command))


def mcp_command(
    context: typer.Context,
    transport: Annotated[
        Literal["stdio", "http"],
        typer.Option(
            "--transport",
            rich_help_panel=_PANEL,
            help="stdio: the client starts this command (the usual way); http: streamable HTTP on a loopback port.",
        ),
    ] = "stdio",
    host: Annotated[
        str,
        typer.Option(
            "--host",
            rich_help_panel=_PANEL,
            help="http: the loopback address to listen on (the server has no "
            "authentication, so it never listens beyond this machine).",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            rich_help_panel=_PANEL,
            help=f"http: the port (0: a free one, printed on stderr; default {DEFAULT_PORT}).",
        ),
    ] = DEFAULT_PORT,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            metavar="POLICY",
            rich_help_panel=_PANEL,
            help="read (screenshots, queries, asserts: the default) or act (actions and tasks too), for every device; "
            "LEVEL=SPEC[,SPEC] for those devices only. Repeatable.",
        ),
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option(
            "--secret",
            metavar="NAME",
            rich_help_panel=_PANEL,
            help="An environment variable clients may type as {{secret:NAME}}; its value never leaves the server "
            "(repeatable).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", rich_help_panel=_PANEL, help="Where run directories go (env AGENT_RUNS_DIR; default runs/)."
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps",
            min=1,
            rich_help_panel=_PANEL,
            help="run_task: model steps per goal, unless the call or the task file says (env AGENT_MAX_STEPS; default 30).",
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            metavar="DURATION",
            rich_help_panel=_PANEL,
            help="run_task: wall time of each task, unless its file says, e.g. 90s, 5m (env AGENT_TIMEOUT).",
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0.0,
            metavar="SECONDS",
            rich_help_panel=_PANEL,
            help="Pause after acting, so the screen redraws before the next screenshot.",
        ),
    ] = 0.5,
    stuck_after: Annotated[
        int,
        typer.Option(
            "--stuck-after",
            min=0,
            rich_help_panel=_PANEL,
            help="run_task: end as stuck after the same action on an unchanged screen this many times (0 = never).",
        ),
    ] = 3,
    max_parse_errors: Annotated[
        int,
        typer.Option(
            "--max-parse-errors",
            min=0,
            rich_help_panel=_PANEL,
            help="Unusable model answers fed back in a row before a step fails.",
        ),
    ] = 3,
    no_report: Annotated[
        bool,
        typer.Option("--no-report", rich_help_panel=_PANEL, help="Do not write report.html into the run directories."),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, rich_help_panel=_PANEL, help="INFO logs on stderr (-vv: debug)."),
    ] = 0,
    *,
    device: DeviceFlags,
    model: ModelFlags,
) -> None:
    """Serve MCP until the client leaves or a signal stops the server."""
    from .run_start import StartErrors
    from .verbosity import command_verbosity

    command_verbosity(context, verbose)
    errors = StartErrors(Console(stderr=True, soft_wrap=True, highlight=False), None)
    if find_spec("mcp") is None:
        errors.bad_input("agent mcp needs the MCP SDK: pip install 'qwen-gui-agent[mcp]'")
    from ..mcp.policy import PolicyError, build_policy
    from ..mcp.settings import ServerSettings
    from ..runtime.secrets import MissingSecret, Secrets

    environ = dict(os.environ)
    try:
        served_model = model_setup(model, environ)
        served, desktop, android = device_setup(device, environ)
        policy = build_policy(served, allow or [])
        secrets = Secrets.from_environment(secret or [], environ)
        loop = loop_settings(
            served_model,
            environ,
            max_steps=max_steps,
            timeout=timeout,
            settle_s=settle,
            stuck_after=stuck_after,
            max_parse_errors=max_parse_errors,
        )
        _check_loopback(transport, host)
    except (typer.BadParameter, PolicyError, MissingSecret) as error:
        errors.bad_input(str(error))
    settings = ServerSettings(
        policy=policy,
        model=served_model,
        loop=loop,
        out_dir=out or Path(environ.get("AGENT_RUNS_DIR") or "runs"),
        secrets=secrets,
        desktop=desktop,
        android=android,
        transport=transport,
        host=host,
        port=port,
        write_report=not no_report,
        environ=environ,
    )
    _redact_logs(secrets)
    from ..mcp.server import ListenError, serve

    try:
        serve(settings)
    except ListenError as error:
        Console(stderr=True, soft_wrap=True, highlight=False).print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


# ----------------------------------------------------------------------------- the shared flags, read once
# The model and device flags are `agent run`'s; how they become settings lives here, in one place.


def model_setup(flags: ModelFlags, environ: Mapping[str, str]) -> ServedModel:
    """The model flags (then AGENT_* variables, then defaults) as the server's model; BadParameter if unusable."""
    from ..mcp.settings import ServedModel
    from .model_settings import resolve_model_settings
    from .run_start import check_backend_inputs

    choice = resolve_model_settings(flags, environ=environ)
    check_backend_inputs(choice.settings)  # a missing script, model or adapter folder is bad input now
    return ServedModel(
        settings=choice.settings, dialect=choice.dialect, coordinates=choice.coordinates, info=choice.public_dict()
    )


def device_setup(flags: DeviceFlags, environ: Mapping[str, str]) -> tuple[list[str], Any, Any]:
    """The served device specs (--device, comma-separated) and the desktop and Android driver settings."""
    from ...devices import parse_device_spec
    from ...devices.errors import DeviceError
    from ..suite.pool import ALL_ANDROID, split_device_specs
    from .device_options import android_settings_for_cli, desktop_settings_for_cli, resolve_spec

    desktop = desktop_settings_for_cli(flags, environ)
    android = android_settings_for_cli(flags, environ)
    text = resolve_spec(flags, environ)
    specs = split_device_specs(text)
    for spec in specs:
        if spec.lower() == ALL_ANDROID:
            raise typer.BadParameter(
                f"--device {text}: name each phone (agent devices lists them); the server's "
                "policy is per device, so android:* is not taken"
            )
        try:
            parse_device_spec(spec)
        except DeviceError as error:
            raise typer.BadParameter(f"--device {text}: {error}") from None
    return specs, desktop, android


def loop_settings(
    model: ServedModel, environ: Mapping[str, str], *, max_steps: int | None, timeout: str | None, **fixed: Any
) -> LoopSettings:
    from ...tasks.schema import duration_seconds
    from ..runtime.session import LoopSettings

    def duration(text: str, where: str) -> float:
        try:
            return duration_seconds(text)
        except ValueError as error:
            raise typer.BadParameter(f"{where}: {error}") from None

    raw_steps = environ.get("AGENT_MAX_STEPS", "").strip()
    if max_steps is None and raw_steps:
        if not raw_steps.isdigit() or int(raw_steps) < 1:
            raise typer.BadParameter(f"AGENT_MAX_STEPS={raw_steps!r} is not a step count")
        max_steps = int(raw_steps)
    raw_timeout = timeout or environ.get("AGENT_TIMEOUT", "").strip() or None
    where = "--timeout" if timeout else "AGENT_TIMEOUT"
    return LoopSettings(
        max_steps=max_steps or 30,
        timeout_s=duration(raw_timeout, where) if raw_timeout else None,
        frame=model.settings.frame,
        **fixed,
    )


def _check_loopback(transport: str, host: str) -> None:
    if transport != "http":
        return
    if host.lower() in LOOPBACK_NAMES:
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise typer.BadParameter(
            f"--host {host}: the server has no authentication, so it listens on loopback only "
            "(127.0.0.1, ::1, localhost); reach it from elsewhere through an SSH tunnel"
        )


def _redact_logs(secrets: Secrets) -> None:
    """Secret values never reach a log line, whoever logs them (the SDK, uvicorn, the drivers)."""
    from ..runtime.secrets import RedactingFilter

    if not secrets:
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.addFilter(RedactingFilter(secrets))
