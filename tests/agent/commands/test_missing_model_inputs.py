"""A missing script, model folder or adapter folder is bad input, said at once: before torch loads, before a device
opens, in `agent run`, a suite and `agent eval` alike (exit 2, nothing recorded, no "run again to resume")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO

# `agent` in a child process, telling at exit whether torch was imported on the way.
AGENT_REPORTING_TORCH = (
    "import sys\n"
    "from qwen_gui_agent.agent.cli import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    print('torch imported:', 'torch' in sys.modules, file=sys.stderr)\n"
)


def agent(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_") and key != "DISPLAY"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", AGENT_REPORTING_TORCH, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl"}), encoding="utf-8")
    return folder


def test_a_missing_model_folder_is_said_before_torch_loads(tmp_path: Path) -> None:
    done = agent(
        "run",
        "open it",
        "--backend",
        "local",
        "--model",
        str(tmp_path / "nowhere"),
        "--out",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"--model: no model in {tmp_path / 'nowhere'} (no such directory)" in done.stderr
    assert "torch imported: False" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_a_missing_adapter_folder_is_said_before_torch_loads(tmp_path: Path, model_folder: Path) -> None:
    done = agent(
        "run",
        "open it",
        "--backend",
        "local",
        "--model",
        str(model_folder),
        "--adapter",
        str(tmp_path / "checkpoint-9"),
        "--out",
        str(tmp_path / "runs"),
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"--adapter: no LoRA adapter in {tmp_path / 'checkpoint-9'} (no such directory)" in done.stderr
    assert "torch imported: False" in done.stderr


def test_a_suite_task_whose_script_is_missing_is_bad_input(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for name in ("one", "two"):
        (tasks / f"{name}.yaml").write_text(
            f"name: {name}\nmodel: {{backend: scripted, script: scripts/{name}.yaml}}\nsteps: [{{ai: do {name}}}]\n",
            encoding="utf-8",
        )
    done = agent(
        "run", str(tasks), "--parallel", "2", "--device", "desktop::91", "--out", str(tmp_path / "out"), cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "--script: cannot read the script scripts/one.yaml" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["script", "model"])
def test_an_eval_with_a_missing_script_or_model_is_bad_input_not_a_resume(tmp_path: Path, kind: str) -> None:
    (tmp_path / "data.json").write_text("[]", encoding="utf-8")
    flags = ["--script", "answers.json"] if kind == "script" else ["--backend", "local", "--model", "./models/nowhere"]
    done = agent("eval", "grounding", "data.json", *flags, "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert (
        "--script: cannot read the script answers.json" if kind == "script" else "--model: no model in models/nowhere"
    ) in done.stderr
    assert "resume" not in done.stderr and "torch imported: False" in done.stderr
    assert not (tmp_path / "out").exists()
