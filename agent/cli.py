"""The ``agent`` command line.

Each command group lives in its own module under ``qwen_gui_agent.agent.commands`` with a
``register(app)`` function; heavy imports stay inside the command bodies so
``agent --help`` is instant and works without a display, adb or torch.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "qwen_gui_agent.agent.commands.parse",  # agent parse
    "qwen_gui_agent.agent.commands.models",  # agent models
    "qwen_gui_agent.agent.commands.device",  # agent devices / screenshot / do
    "qwen_gui_agent.agent.commands.emulator",  # agent emulator list / start
    "qwen_gui_agent.agent.commands.run",  # agent run
    "qwen_gui_agent.agent.commands.replay",  # agent replay / report
    "qwen_gui_agent.agent.commands.eval",  # agent eval grounding / steps
    "qwen_gui_agent.agent.commands.export",  # agent export / label
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
        verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                    help="More detail: thoughts, device commands, INFO logs (-vv: debug logs). "
                                    "The same before or after the command."),
        version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                     help="Print the version and exit."),
    ) -> None:
        from qwen_gui_agent.agent.commands.verbosity import remember_root_verbosity

        remember_root_verbosity(context, verbose)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def _print_version(value: bool) -> None:
    if value:
        from qwen_gui_agent import __version__

        typer.echo(f"agent (qwen-gui-agent) {__version__}")
        raise typer.Exit(0)


def main() -> None:
    build_app()()
