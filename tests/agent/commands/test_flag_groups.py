"""Flag groups: a dataclass of typer options added to commands whole, each command called with typed objects."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.agent.commands import model_settings
from qwen_gui_agent.agent.commands.device_options import DeviceFlags
from qwen_gui_agent.agent.commands.flag_groups import with_flag_groups
from qwen_gui_agent.agent.commands.loop_options import LoopFlags
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from tests.support.cli import single_group_app


@dataclass(frozen=True)
class Weights:
    quantization: Annotated[str | None, typer.Option("--quantization", help="Weight quantization.")] = None
    bits: Annotated[int, typer.Option("--bits", min=2)] = 16


def test_each_field_of_a_group_is_an_option_and_the_command_gets_the_group() -> None:
    seen: list[object] = []

    def command(name: Annotated[str, typer.Argument()], *, weights: Weights) -> None:
        seen.extend([name, weights])

    def register(app: typer.Typer) -> None:
        app.command("probe")(with_flag_groups(weights=Weights)(command))

    app = single_group_app(register)
    assert CliRunner().invoke(app, ["probe", "x", "--quantization", "int8"]).exit_code == 0
    assert seen == ["x", Weights(quantization="int8", bits=16)]
    assert CliRunner().invoke(app, ["probe", "x", "--bits", "1"]).exit_code == 2  # the option's own check holds


def test_a_flag_defined_twice_is_refused_when_the_command_is_built() -> None:
    def command(*, model: ModelFlags, again: ModelFlags) -> None: ...

    with pytest.raises(TypeError, match="flags defined twice"):
        with_flag_groups(model=ModelFlags, again=ModelFlags)(command)


def flags_of(group: type) -> list[str]:
    return ["--" + field.name.replace("_", "-") for field in dataclasses.fields(group)]


@pytest.mark.parametrize(
    ("command", "groups"),
    [
        (["run"], (ModelFlags, DeviceFlags, LoopFlags)),
        (["eval", "grounding"], (ModelFlags,)),
        (["eval", "steps"], (ModelFlags,)),
        (["eval", "miniwob"], (ModelFlags,)),
        (["replay"], (DeviceFlags,)),
        (["do"], (DeviceFlags,)),
        (["mcp"], (ModelFlags, DeviceFlags)),
    ],
)
def test_every_command_takes_every_flag_of_its_groups(command: list[str], groups: tuple[type, ...]) -> None:
    help_text = CliRunner().invoke(build_app(), [*command, "--help"], env={"COLUMNS": "300"}).output
    missing = [flag for group in groups for flag in flags_of(group) if flag not in help_text]
    assert missing == []


def test_each_model_flag_has_its_environment_variable_and_settings_field() -> None:
    assert sorted(model_settings._KNOBS) == sorted(field.name for field in dataclasses.fields(ModelFlags))
