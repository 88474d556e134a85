"""The ``agent`` command line.

Each command group lives in its own module under ``commands/`` with a ``register(app)``
function; heavy imports stay inside the command bodies so ``agent --help`` is instant and works
without a display, adb or torch.
"""

from __future__ import annotations

import typer

from .commands import device, emulator, export, mcp, models, parse, replay, run
from .commands import eval as eval_commands  # not to shadow the builtin

# In the order ``agent --help`` lists them.
COMMAND_MODULES = (
    parse,  # agent parse
    models,  # agent models
    device,  # agent devices / screenshot / do
    emulator,  # agent emulator list / start
    run,  # agent run
    replay,  # agent replay / report
    eval_commands,  # agent eval grounding / steps
    export,  # agent export / label
    mcp,  # agent mcp
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="agent",
        help="A visual GUI agent driven by Qwen-family vision models (Qwen2.5-VL, Qwen3-VL, UI-TARS, GUI-Owl): "
        "screenshots in, exact actions out.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root(
        context: typer.Context,
        verbose: int = typer.Option(
            0,
            "--verbose",
            "-v",
            count=True,
            help="More detail: thoughts, device commands, INFO logs (-vv: debug logs). "
            "The same before or after the command.",
        ),
        version: bool = typer.Option(
            False, "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ) -> None:
        from .commands.verbosity import remember_root_verbosity

        remember_root_verbosity(context, verbose)

    for module in COMMAND_MODULES:
        module.register(app)
    return app


def _print_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"agent (qwen-gui-agent) {__version__}")
        raise typer.Exit(0)


def main() -> None:
    build_app()()
