"""`--adapter`: only for the local backend, and a folder without an adapter is a clear error before any step."""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.backends.base import BackendUnavailable
from qwen_gui_agent.agent.backends.local.loading import merge_adapter
from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import ModelOptionError, resolve_model_settings


def test_the_adapter_flag_reaches_the_local_backend_settings():
    choice = resolve_model_settings(ModelFlags(backend="local", adapter="output/v0/checkpoint-3"), environ={})
    assert choice.settings.adapter == "output/v0/checkpoint-3"
    assert choice.public_dict()["adapter"] == "output/v0/checkpoint-3"  # recorded with the run


def test_an_adapter_for_a_server_backend_is_refused():
    with pytest.raises(ModelOptionError, match="--adapter: .*merged by the local backend"):
        resolve_model_settings(ModelFlags(base_url="http://127.0.0.1:9/v1", adapter="ckpt"), environ={})


def test_the_environment_names_an_adapter_too():
    assert resolve_model_settings(environ={"AGENT_ADAPTER": "ckpt"}).origins["adapter"] == "AGENT_ADAPTER"


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_folder_without_an_adapter_says_where_to_point(tmp_path, make):
    folder = tmp_path / "ckpt"
    if make == "empty":
        folder.mkdir()
    with pytest.raises(BackendUnavailable) as caught:
        merge_adapter(object(), str(folder))
    assert "no LoRA adapter in" in str(caught.value) and "checkpoint" in caught.value.hint
