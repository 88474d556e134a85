"""agent eval takes every shared model flag, including ones added to model_options later (say --quantization)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands import model_options
from qwen_gui_agent.agent.commands.model_flags import model_flag_aliases, with_model_flags
from tests.support.cli import single_group_app


def test_every_parameter_of_resolve_model_settings_is_a_flag() -> None:
    wanted = set(inspect.signature(model_options.resolve_model_settings).parameters) - {"environ", "task"}
    assert set(model_flag_aliases()) == wanted


def test_a_flag_added_to_model_options_appears_on_the_command(monkeypatch) -> None:
    original = model_options.resolve_model_settings

    def with_quantization(*, quantization: str | None = None, **values: Any) -> Any:
        return original(**values), quantization

    signature = inspect.signature(original)
    with_quantization.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
        *signature.parameters.values(), inspect.Parameter("quantization", inspect.Parameter.KEYWORD_ONLY, default=None)])
    monkeypatch.setattr(model_options, "resolve_model_settings", with_quantization)
    monkeypatch.setattr(model_options, "QuantizationOption", Annotated[str | None, typer.Option(
        "--quantization", rich_help_panel=model_options.PANEL, help="Weight quantization.")], raising=False)
    seen: dict[str, Any] = {}

    def command(name: Annotated[str, typer.Argument()], *, model_flags: dict[str, Any]) -> None:
        seen.update(model_flags, name=name)

    def register(app: typer.Typer) -> None:
        app.command("probe")(with_model_flags(command))

    result = CliRunner().invoke(single_group_app(register), ["probe", "x", "--quantization", "int8", "--max-pixels",
                                                             "100*28*28"])
    assert result.exit_code == 0, result.output
    assert seen["quantization"] == "int8" and seen["max_pixels"] == 100 * 28 * 28 and seen["name"] == "x"
    assert seen["model"] is None  # flags not given stay None, for resolve_model_settings to fill in
