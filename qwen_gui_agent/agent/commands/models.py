"""``agent models``: the model families the agent knows, and which one a given model is, and why.

Without an argument it lists the registry (tools/models.py): each family's
dialect, coordinates, patch factor, default frame bounds and the class the
local backend loads. With a model id (hub / ModelScope name, served name, or a
local directory, whose config.json is read) it says which family that model
is and what matched; a model it does not know exits 2 with a message naming
``--dialect``, the flag that says its format by hand.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ...tools.models import FAMILIES, ModelFamily
from ..backends.settings import resolve_model_name


def _pixels(value: int, factor: int) -> str:
    tokens, rest = divmod(value, factor * factor)
    return f"{tokens}*{factor}*{factor}" if rest == 0 else str(value)


def family_record(family: ModelFamily) -> dict[str, object]:
    """One family as plain data (the --json line, and the table's cells)."""
    return {
        "family": family.name,
        "dialect": family.dialect,
        "coordinates": family.coordinates_text,
        "patch_factor": family.patch_factor,
        "min_pixels": family.frame.min_pixels,
        "max_pixels": family.frame.max_pixels,
        "model_class": family.model_class,
        "fast_path": family.fast_path,
        "summary": family.summary,
    }


def _table() -> object:
    from rich.table import Table

    table = Table(title="Model families (tools/models.py)")
    for column in ("family", "dialect", "coordinates", "factor", "agent run pixels", "local class"):
        table.add_column(column)
    for family in FAMILIES:
        pixels = f"{_pixels(family.frame.min_pixels, family.patch_factor)}..{_pixels(family.frame.max_pixels, family.patch_factor)}"
        table.add_row(
            family.name,
            family.dialect,
            family.coordinates_text,
            str(family.patch_factor),
            pixels,
            family.model_class + (" (fast path)" if family.fast_path else ""),
        )
    return table


def register(app: typer.Typer) -> None:
    @app.command("models")
    def models_command(
        model: Annotated[
            str | None, typer.Argument(help="A model id or local directory: say which family it is and why.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
    ) -> None:
        """List the model families the agent knows, or say which one MODEL is and why."""
        from rich.console import Console

        from ...tools.models import match_model_or_directory
        from .model_settings import unknown_model_message

        if model is None:
            if as_json:
                for family in FAMILIES:
                    typer.echo(json.dumps(family_record(family)))
            else:
                Console().print(_table())
            return
        name = resolve_model_name(model)
        match = match_model_or_directory(name)
        if match is None:
            typer.echo(f"error: {unknown_model_message(name)}", err=True)
            raise typer.Exit(2)
        record = {"model": name, **family_record(match.family), "why": match.reason}
        if as_json:
            typer.echo(json.dumps(record, ensure_ascii=False))
            return
        for key, value in record.items():
            typer.echo(f"{key}: {value}")
