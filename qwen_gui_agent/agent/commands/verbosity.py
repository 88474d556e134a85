"""``-v`` means one thing wherever it is given: ``agent -v run`` is ``agent run -v``.

Each ``-v`` adds one level, counted across the root and the command: 1 shows the model's
thoughts and the device commands and logs at INFO; 2 logs at DEBUG. The root callback keeps
its count in the command context, so a command adds its own to it.
"""

from __future__ import annotations

import logging

import typer

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
_COUNT_KEY = "qwen_gui_agent.verbose"


def log_level(verbose: int) -> int:
    return logging.WARNING - 10 * min(max(verbose, 0), 2)


def configure_logging(verbose: int) -> None:
    """Set the root logger's level for ``verbose``; the first call installs the handler."""
    logging.basicConfig(level=log_level(verbose), format=LOG_FORMAT)
    logging.getLogger().setLevel(log_level(verbose))


def remember_root_verbosity(context: typer.Context, verbose: int) -> None:
    context.meta[_COUNT_KEY] = verbose  # ``meta`` is shared by the whole chain of contexts
    configure_logging(verbose)


def command_verbosity(context: typer.Context | None, own: int) -> int:
    """The root's ``-v`` count plus the command's own; logging follows the total."""
    total = own + (context.meta.get(_COUNT_KEY, 0) if context is not None else 0)
    configure_logging(total)
    return total
