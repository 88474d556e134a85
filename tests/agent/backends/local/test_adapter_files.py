"""Damaged or unsafe `--adapter` files (issue 22, item 11): a clear error naming the file, never a traceback.

A LoRA adapter is made here with peft on the tiny random Qwen2.5-VL and then spoilt as a stranger's
checkpoint might be: its safetensors file cut short, or replaced by a pickle that runs a command when
loaded (torch refuses it: weights only). The pickle's command must never run.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from qwen_gui_agent.agent.backends.base import BackendUnavailable
from qwen_gui_agent.agent.backends.local.loading import merge_adapter
from tests.agent.eval.support import agent_eval
from tests.support.make_grounding_set import make_screenspot

SAFETENSORS = "adapter_model.safetensors"


@pytest.fixture(scope="module")
def adapter(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_dir)
    folder = tmp_path_factory.mktemp("adapter") / "checkpoint-1"
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(folder)
    assert (folder / SAFETENSORS).is_file()
    return folder


@pytest.fixture(scope="module")
def base_model(tiny_dir: Path) -> Any:
    from transformers import Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_dir)


class RunsACommand:
    """Unpickled, it runs a shell command: what a hostile adapter_model.bin holds."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def spoil(adapter: Path, target: Path, how: str) -> Path:
    import shutil

    shutil.copytree(adapter, target)
    weights = target / SAFETENSORS
    if how == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif how == "a pickle that runs a command":
        weights.unlink()
        (target / "adapter_model.bin").write_bytes(pickle.dumps({"weights": RunsACommand(target / "PWNED")}))
    elif how == "not a safetensors file":
        weights.write_bytes(b"\x00" * 64)
    return target


HOW = ["truncated", "a pickle that runs a command", "not a safetensors file"]


@pytest.mark.parametrize("how", HOW)
def test_a_spoilt_adapter_is_one_clear_error(adapter: Path, base_model: Any, tmp_path: Path, how: str) -> None:
    spoilt = spoil(adapter, tmp_path / "checkpoint-1", how)
    with pytest.raises(BackendUnavailable) as caught:
        merge_adapter(base_model, str(spoilt))
    message = str(caught.value)
    assert str(spoilt) in message and "\n" not in message, message
    assert "swift sft" in message or "checkpoint" in message  # the fix: a checkpoint written by training
    assert not (spoilt / "PWNED").exists()  # the pickle's command never ran


@pytest.mark.parametrize("how", HOW[:2])
def test_the_command_line_exits_2_naming_the_adapter(adapter: Path, tiny_dir: Path, tmp_path: Path, how: str) -> None:
    spoilt = spoil(adapter, tmp_path / "checkpoint-1", how)
    data = tmp_path / "data"
    make_screenspot(data)
    result = agent_eval(
        "grounding",
        data,
        "--backend",
        "local",
        "--model",
        tiny_dir,
        "--adapter",
        spoilt,
        "--torch-device",
        "cpu",
        "-o",
        tmp_path / "out",
        "--limit",
        "1",
    )
    output = " ".join(result.output.split())
    assert result.exit_code == 2, output
    assert isinstance(result.exception, SystemExit) and str(spoilt) in output and "Traceback" not in output
    assert not (spoilt / "PWNED").exists()


def test_a_sound_adapter_still_merges(adapter: Path, base_model: Any) -> None:
    assert type(merge_adapter(base_model, str(adapter))) is type(base_model)


@pytest.mark.xvfb
@pytest.mark.slow
def test_agent_run_exits_2_before_any_step(adapter: Path, tiny_dir: Path, tmp_path: Path) -> None:
    from tests.support.e2e import agent_env, run_agent, xvfb_or_skip

    spoilt = spoil(adapter, tmp_path / "checkpoint-1", "a pickle that runs a command")
    display = xvfb_or_skip(300, 200)
    server = next(display)
    try:
        done = run_agent(
            [
                "click the menu",
                "--backend",
                "local",
                "--model",
                str(tiny_dir),
                "--adapter",
                str(spoilt),
                "--torch-device",
                "cpu",
                "--dry-run",
                "--device",
                "desktop",
                "--no-failsafe",
                "--out",
                str(tmp_path / "runs"),
            ],
            env=agent_env(server.env()),
            timeout=600,
        )
    finally:
        display.close()
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"the adapter in {spoilt} holds pickled weights" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()  # no run was recorded
    assert not (spoilt / "PWNED").exists()
