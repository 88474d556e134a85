"""The whole loop on a CPU: recorded runs -> a correction -> `agent export` -> `swift sft` (the real ms-swift, a
LoRA of a few steps on the tiny random Qwen2.5-VL) -> `agent run --adapter` runs a step with the checkpoint."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.cli import run_agent
from tests.support.e2e import agent_env, xvfb_or_skip

# swift sft and swift export run in the fixtures below: their own subprocess timeouts bound them, not the
# suite's 300 s default (which would count the training into the first test's setup).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

TRAIN_STEPS = 2
# ms-swift prints one dict per logged step: {'loss': '11.94', 'grad_norm': ...}
LOSS_LINE = re.compile(r"'loss': '([0-9.eE+-]+|nan|inf)'")


@pytest.fixture(scope="module")
def exported(recorded_runs, tmp_path_factory) -> Path:
    """Both recorded runs, with step 1 of the uitars run corrected, exported through the CLI."""
    runs = tmp_path_factory.mktemp("loop")
    copies = []
    for dialect, recorded in recorded_runs.items():  # copies: the label must not touch the shared runs
        copies.append(Path(shutil.copytree(recorded.run_dir, runs / dialect)))
    labelled = run_agent(
        [
            "label",
            str(copies[0]),
            "--step",
            "1",
            "click(start_box='(60,40)')",
            "--thought",
            "The menu button is a little lower.",
        ]
    )
    assert labelled.returncode == 0, labelled.stderr
    output = runs / "data"
    done = run_agent(["export", *map(str, copies), "-o", str(output)])
    assert done.returncode == 0, done.stderr
    assert "1 corrected" in done.stdout
    return output


def swift_sft_arguments(manifest: dict, model: Path, output_dir: Path) -> list[str]:
    """The manifest's command, for the tiny model on a CPU with a couple of steps (as docs/finetune.md says)."""
    arguments = list(manifest["swift_sft"][2:])
    overrides = {
        "--model": str(model),
        "--torch_dtype": "float32",
        "--output_dir": str(output_dir),
        "--gradient_accumulation_steps": "2",
        "--learning_rate": "1e-3",
    }
    for flag, value in overrides.items():
        arguments[arguments.index(flag) + 1] = value
    return [
        *arguments,
        "--max_steps",
        str(TRAIN_STEPS),
        "--save_steps",
        str(TRAIN_STEPS),
        "--logging_steps",
        "1",
        "--check_model",
        "false",
        "--gradient_checkpointing",
        "false",
        "--dataloader_num_workers",
        "0",
        "--dataset_num_proc",
        "1",
        "--split_dataset_ratio",
        "0",
        "--report_to",
        "none",
    ]


@pytest.fixture(scope="module")
def checkpoint(exported, swift_tiny, tmp_path_factory) -> Path:
    pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
    swift = shutil.which("swift")
    if swift is None:
        pytest.skip("the swift command is not installed (pip install -e '.[train]')")
    manifest = json.loads((exported / "manifest.json").read_text())
    output_dir = tmp_path_factory.mktemp("sft")
    env = {**os.environ, **manifest["environment"], "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [swift, "sft", *swift_sft_arguments(manifest, swift_tiny, output_dir)],
        env=env,
        cwd=output_dir,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    losses = [float(value) for value in LOSS_LINE.findall(log)]
    assert len(losses) == TRAIN_STEPS and all(math.isfinite(loss) for loss in losses), log[-4000:]
    checkpoints = sorted(output_dir.glob(f"v*/checkpoint-{TRAIN_STEPS}"))
    assert checkpoints and (checkpoints[-1] / "adapter_config.json").is_file(), log[-2000:]
    return checkpoints[-1]


def test_the_adapter_changes_the_weights_it_is_merged_into(checkpoint, swift_tiny):
    import torch

    from qwen_gui_agent.agent.backends.local.loading import load_model
    from qwen_gui_agent.agent.backends.settings import BackendSettings

    base = load_model(BackendSettings(kind="local", model=str(swift_tiny), torch_device="cpu")).model
    tuned = load_model(
        BackendSettings(kind="local", model=str(swift_tiny), torch_device="cpu", adapter=str(checkpoint))
    ).model
    assert type(tuned) is type(base)  # merged: a plain model again, no peft wrapper left for the fast path
    base_weights, tuned_weights = base.state_dict(), tuned.state_dict()
    assert base_weights.keys() == tuned_weights.keys()
    changed = [name for name in base_weights if not torch.equal(base_weights[name], tuned_weights[name])]
    assert changed and all("language_model" in name for name in changed), changed[:5]


def test_agent_runs_a_step_with_the_trained_adapter(checkpoint, swift_tiny, tmp_path):
    display = xvfb_or_skip(300, 200)
    server = next(display)
    try:
        out = tmp_path / "runs"
        done = run_agent(
            [
                "-v",
                "run",
                "click the menu",
                "--backend",
                "local",
                "--model",
                str(swift_tiny),
                "--adapter",
                str(checkpoint),
                "--torch-device",
                "cpu",
                "--dry-run",
                "--max-steps",
                "1",
                "--max-parse-errors",
                "0",
                "--max-new-tokens",
                "8",
                "--out",
                str(out),
                "--device",
                "desktop",
                "--no-failsafe",
                "--no-report",
            ],
            env=agent_env(server.env()),
            timeout=600,
        )
    finally:
        display.close()
    assert done.returncode in (0, 1), done.stderr  # the random model's answer does not parse: a failed run
    assert f"merged the LoRA adapter {checkpoint}" in done.stderr
    run = load_run(next(out.iterdir()))
    assert run.info.model["adapter"] == str(checkpoint)
    assert len(run.steps) == 1 and run.steps[0].completion_tokens, run.steps


def test_the_fast_path_runs_on_the_merged_model_and_answers_as_the_plain_path(checkpoint, swift_tiny):
    from PIL import Image

    from qwen_gui_agent.agent.backends import BackendSettings, create_backend
    from qwen_gui_agent.tools.messages import Message

    messages = [
        Message.text("system", "You are a GUI agent."),
        Message(role="user", parts=(Image.new("RGB", (308, 196), (40, 90, 160)), "Click the menu.")),
    ]
    completions = {}
    for fast in (False, True):  # forced on: the CPU runs the fast path's code too (tests/agent/backends/local/fastpath)
        backend = create_backend(
            BackendSettings(
                kind="local",
                model=str(swift_tiny),
                torch_device="cpu",
                adapter=str(checkpoint),
                fast=fast,
                max_new_tokens=6,
            )
        )
        try:
            completions[fast] = backend.complete(messages)
        finally:
            backend.close()
    assert "vision" in completions[True].timings  # the fast path's own phase: it did not fall back
    assert completions[True].text == completions[False].text


@pytest.fixture(scope="module")
def merged_by_swift(checkpoint, tmp_path_factory) -> Path:
    """The checkpoint merged into a full model directory by ms-swift itself (docs/finetune.md, step 5)."""
    output_dir = tmp_path_factory.mktemp("merged") / "model"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [
            shutil.which("swift") or "swift",
            "export",
            "--adapters",
            str(checkpoint),
            "--merge_lora",
            "true",
            "--output_dir",
            str(output_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert (output_dir / "config.json").is_file(), sorted(path.name for path in output_dir.iterdir())
    return output_dir


def test_a_model_merged_by_swift_export_loads_as_the_model_and_matches_the_adapter(
    checkpoint, merged_by_swift, swift_tiny
):
    import torch

    from qwen_gui_agent.agent.backends.local.loading import load_model
    from qwen_gui_agent.agent.backends.settings import BackendSettings

    ours = load_model(
        BackendSettings(kind="local", model=str(swift_tiny), torch_device="cpu", adapter=str(checkpoint))
    ).model.state_dict()
    theirs = load_model(BackendSettings(kind="local", model=str(merged_by_swift), torch_device="cpu")).model
    theirs = theirs.state_dict()
    assert ours.keys() == theirs.keys()
    differing = [name for name in ours if not torch.allclose(ours[name], theirs[name], rtol=0, atol=1e-6)]
    assert not differing, differing[:5]
