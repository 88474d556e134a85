"""The flags the ``agent eval`` commands share, shown under their own "Eval" help panel.

``--out`` names the results folder (a rerun with the same settings resumes there; default
``evals/<kind>-<data>``), ``--limit`` and ``--parallel`` bound what is asked, ``--fresh`` starts the
folder over. ``agent eval grounding`` and ``steps`` take them all; ``miniwob`` takes ``--fresh`` and
declares its own ``--out`` and ``--parallel`` (episodes, not items). Each command's other flags are
declared with it (commands/eval.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_OUT = Path("evals")
PANEL = "Eval"

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        rich_help_panel=PANEL,
        help="Results folder; running again with the same settings resumes there (default evals/<kind>-<data>).",
    ),
]
LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, rich_help_panel=PANEL, help="Only the first N items (in file order).")
]
ParallelOption = Annotated[
    int | None,
    typer.Option(
        "--parallel",
        min=1,
        rich_help_panel=PANEL,
        show_default=False,
        help="Items asked at once: concurrent requests (openai; default 4), or batched on one local model (local; "
        "default 1: a batch may break near-ties of the logits differently); a script answers in order.",
    ),
]
FreshOption = Annotated[
    bool, typer.Option("--fresh", rich_help_panel=PANEL, help="Drop the folder's earlier results and start over.")
]
