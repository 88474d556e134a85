"""The README and manifest of an exported training folder: what is in it and how to train on it.

The command is the one that works with ms-swift 4.x from PyPI: ``--tuner_type lora``,
``--template qwen2_5_vl`` (ms-swift cannot tell the template of a local directory by
its name), MAX_PIXELS/MIN_PIXELS that leave every exported image at its own size
(so the coordinates written in the answers stay true), QWENVL_BBOX_FORMAT=new so
grounding rows read as Qwen2.5-VL's own JSON, and ROOT_IMAGE_DIR for the
relative image paths.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from .summary import ExportResult

MANIFEST_FILE = "manifest.json"
README_FILE = "README.md"
DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
MAX_LENGTH_STEP = 1024


def training_environment(result: ExportResult, folder: str) -> dict[str, str]:
    return {
        "MAX_PIXELS": str(result.max_pixels),
        "MIN_PIXELS": str(result.min_pixels),
        "QWENVL_BBOX_FORMAT": "new",
        "ROOT_IMAGE_DIR": folder,
    }


def max_length(result: ExportResult) -> int:
    return -(-max(result.longest_row, 1) // MAX_LENGTH_STEP) * MAX_LENGTH_STEP


def sft_arguments(
    result: ExportResult, data_file: str, *, model: str = DEFAULT_BASE_MODEL, output_dir: str = "output"
) -> list[str]:
    """``swift sft`` arguments for a GPU; on a CPU add ``--torch_dtype float32`` (see docs/finetune.md)."""
    return [
        "--model",
        model,
        "--template",
        "qwen2_5_vl",
        "--dataset",
        data_file,
        "--tuner_type",
        "lora",
        "--lora_rank",
        "8",
        "--lora_alpha",
        "32",
        "--target_modules",
        "all-linear",
        "--freeze_vit",
        "true",
        "--torch_dtype",
        "bfloat16",
        "--num_train_epochs",
        "3",
        "--per_device_train_batch_size",
        "1",
        "--gradient_accumulation_steps",
        "16",
        "--learning_rate",
        "1e-4",
        "--max_length",
        str(max_length(result)),
        "--logging_steps",
        "5",
        "--save_strategy",
        "epoch",
        "--output_dir",
        output_dir,
    ]


def write_manifest(staging: Path, result: ExportResult, data_file: str) -> None:
    folder = str(result.output.resolve())
    environment = training_environment(result, folder)
    arguments = sft_arguments(result, str(Path(folder) / data_file))
    manifest: dict[str, Any] = {
        "format": "ms-swift",
        "data": data_file,
        "dialects": sorted(result.dialects),
        "runs": result.runs,
        "skipped_runs": result.skipped_runs,
        "rows": {"action": result.action_rows, "grounding": result.grounding_rows, "corrected": result.corrected_rows},
        "images": result.images,
        "row_sources": result.sources,  # the run and step of each line of the data file
        "skipped_steps": [{"run": s.run_id, "step": s.index, "reason": s.reason} for s in result.skipped],
        "environment": environment,
        "swift_sft": ["swift", "sft", *arguments],
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (staging / README_FILE).write_text(_readme(result, environment, arguments), encoding="utf-8")


def _readme(result: ExportResult, environment: dict[str, str], arguments: list[str]) -> str:
    # Paths relative to the folder itself (the commands run in it), so it can move to the GPU machine as it is.
    environment = {**environment, "ROOT_IMAGE_DIR": "$PWD"}
    arguments = [*arguments]
    arguments[arguments.index("--dataset") + 1] = Path(arguments[arguments.index("--dataset") + 1]).name
    exports = " \\\n".join(f"{name}={_shell_word(value)}" for name, value in environment.items())
    pairs = [arguments[i : i + 2] for i in range(0, len(arguments), 2)]
    command = " \\\n  ".join(["swift sft", *(shlex.join(pair) for pair in pairs)])
    return f"""# Training data for Qwen2.5-VL (ms-swift)

Exported by `agent export` from {len(result.runs)} recorded run(s) ({", ".join(sorted(result.dialects))} dialect):
{result.action_rows} action rows ({result.corrected_rows} corrected), {result.grounding_rows} grounding rows,
{result.images} images; {len(result.skipped)} step(s) skipped (see manifest.json for why).

Each row is exactly what the model saw at that step; the images are already at their model frame,
so keep MAX_PIXELS and MIN_PIXELS as below: they leave every image at its own size, and the
coordinates written in the answers stay true.

Train a LoRA (ms-swift 4.x: `pip install 'qwen-gui-agent[train]'`), on a GPU, from inside this folder
(every path in it is relative, so it can move to the GPU machine as it is):

```bash
cd {shlex.quote(result.output.name)}
{exports} \\
{command}
```

On a CPU, use `--torch_dtype float32`. Then run the agent with the checkpoint ms-swift printed
(`last_model_checkpoint`, under `output/` in this folder):

```bash
agent run "TASK" --backend local --model {DEFAULT_BASE_MODEL} --adapter output/vX-.../checkpoint-N
```
"""


def _shell_word(value: str) -> str:
    """``value`` for a shell command line; ``$PWD`` is left for the shell to expand (in double quotes)."""
    return '"$PWD"' if value == "$PWD" else shlex.quote(value)
