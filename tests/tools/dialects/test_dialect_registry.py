"""A new dialect is one file plus one registry line: every place that names dialects takes it from there.

The dialect below stands for a new file in qwen_gui_agent/tools/dialects/ (a ``Dialect`` subclass);
``monkeypatch.setitem(_DIALECTS, ...)`` stands for the one line added to the registry. Nothing else
is touched: the CLI's --dialect, `agent parse`, the model settings, task files and the Python API
must all know it.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from qwen_gui_agent.agent.api.models import start_model
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import resolve_model_settings
from qwen_gui_agent.tasks.loader import parse_task
from qwen_gui_agent.tools import dialects
from qwen_gui_agent.tools.dialects.base import DialectInfo
from qwen_gui_agent.tools.dialects.qwen import QwenDialect


class ShortQwenDialect(QwenDialect):
    """A made-up format: Qwen2.5-VL's tool calls under another name (what a new file would define)."""

    info = DialectInfo(name="short-qwen", default_image_history=1, aliases=("sq",))


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(dialects._DIALECTS, "short-qwen", ShortQwenDialect)  # the one registry line
    return "short-qwen"


def test_the_registry_names_it(registered: str) -> None:
    assert registered in dialects.dialect_names()
    assert isinstance(dialects.get_dialect("sq"), ShortQwenDialect)  # aliases too


def test_agent_parse_takes_it(registered: str) -> None:
    answer = (
        '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}</tool_call>'
    )
    result = CliRunner().invoke(build_app(), ["parse", answer, "--screen", "1316x728", "--dialect", registered])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)  # read by the new dialect's parser, in its frame
    assert (parsed["action"], parsed["x"], parsed["y"], parsed["frame"]) == ("click", 10, 20, "1316x728")


def test_the_model_flags_and_a_task_file_take_it(registered: str) -> None:
    choice = resolve_model_settings(ModelFlags(model="my-served-model", dialect="sq"), environ={})
    assert choice.dialect == registered
    assert choice.settings.patch_factor == 28  # no family was made for it: Qwen2.5-VL's frame rules
    task = parse_task(f"model:\n  dialect: {registered}\nsteps: [{{ai: go}}]\n", {})
    assert task.model.dialect == registered


def test_the_python_api_takes_it(registered: str) -> None:
    started = start_model(ScriptedBackend(["wait()"]), dialect=registered)
    assert isinstance(started.dialect, ShortQwenDialect)


def test_an_unknown_name_lists_every_registered_dialect(registered: str) -> None:
    result = CliRunner().invoke(build_app(), ["parse", "wait()", "--screen", "800x600", "--dialect", "nope"])
    assert result.exit_code == 2 and registered in result.output
