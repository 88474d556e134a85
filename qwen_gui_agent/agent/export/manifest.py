"""The README and manifest of an exported training folder: what is in it and how to train on it.

The command is the one that works with ms-swift 4.x from PyPI: ``--tuner_type lora``,
``--template qwen2_5_vl`` (ms-swift cannot tell the template of a local directory by
its name), MAX_PIXELS/MIN_PIXELS that leave every exported image at its own size
(so the coordinates written in the answers stay true), QWENVL_BBOX_FORMAT=new so
grounding rows read as Qwen2.5-VL's own JSON, and ROOT_IMAGE_DIR for the
relative image paths.

Action rows go to ``train.jsonl`` and grounding rows to ``grounding.jsonl``, each written only when it has rows,
and ``--dataset`` names each file written. They cannot share one file: ms-swift reads a ``.jsonl`` file with
``datasets``, which fixes the columns from the file's first block (10 MB) and refuses a later block with a column
the first one lacked; only grounding rows have ``objects`` (``null`` or an empty value in the other rows fails
the same way). ms-swift loads each ``--dataset`` file on its own and joins them after its preprocessing.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .summary import ExportResult

MANIFEST_FILE = "manifest.json"
README_FILE = "README.md"
DATA_FILE = "train.jsonl"  # the action rows
GROUNDING_FILE = "grounding.jsonl"  # the grounding rows (tap steps)
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


def data_files(result: ExportResult) -> list[str]:
    """The export's data files that have rows, action rows first: what ``--dataset`` names."""
    return [name for name, rows in ((DATA_FILE, result.action_rows), (GROUNDING_FILE, result.grounding_rows)) if rows]


def exported_files(manifest: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(file name, "RUN/step-N" of each of its lines) for each data file of an export's manifest, in ``--dataset`` order."""
    files = (
        (manifest.get("data"), manifest.get("row_sources")),
        (manifest.get("grounding_data"), manifest.get("grounding_sources")),
    )
    return [(name, list(sources or [])) for name, sources in files if name]


def sft_arguments(
    result: ExportResult, datasets: Sequence[str], *, model: str = DEFAULT_BASE_MODEL, output_dir: str = "output"
) -> list[str]:
    """``swift sft`` arguments for a GPU; on a CPU add ``--torch_dtype float32`` (see docs/finetune.md)."""
    return [
        "--model",
        model,
        "--template",
        "qwen2_5_vl",
        "--dataset",
        *datasets,
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


def write_manifest(staging: Path, result: ExportResult) -> None:
    folder = str(result.output.resolve())
    environment = training_environment(result, folder)
    files = data_files(result)
    arguments = sft_arguments(result, [str(Path(folder) / name) for name in files])
    manifest: dict[str, Any] = {
        "format": "ms-swift",
        "data": DATA_FILE if result.action_rows else None,  # the action rows
        "grounding_data": GROUNDING_FILE if result.grounding_rows else None,  # the grounding rows
        "dialects": sorted(result.dialects),
        "runs": result.runs,
        "skipped_runs": result.skipped_runs,
        "rows": {"action": result.action_rows, "grounding": result.grounding_rows, "corrected": result.corrected_rows},
        "images": result.images,
        "row_sources": result.sources,  # "RUN/step-N" of each line of "data"
        "grounding_sources": result.grounding_sources,  # of each line of "grounding_data"
        "skipped_steps": [{"run": s.run_id, "step": s.index, "reason": s.reason} for s in result.skipped],
        "environment": environment,
        "swift_sft": ["swift", "sft", *arguments],
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    # Paths relative to the folder itself (the commands run in it), so it can move to the GPU machine as it is.
    readme = _readme(result, {**environment, "ROOT_IMAGE_DIR": "$PWD"}, sft_arguments(result, files), files)
    (staging / README_FILE).write_text(readme, encoding="utf-8")


def _readme(result: ExportResult, environment: dict[str, str], arguments: list[str], files: list[str]) -> str:
    exports = " \\\n".join(f"{name}={_shell_word(value)}" for name, value in environment.items())
    command = " \\\n  ".join(["swift sft", *(shlex.join(option) for option in _options(arguments))])
    return f"""# Training data for Qwen2.5-VL (ms-swift)

Exported by `agent export` from {len(result.runs)} recorded run(s) ({", ".join(sorted(result.dialects))} dialect):
{result.action_rows} action rows ({result.corrected_rows} corrected), {result.grounding_rows} grounding rows,
{result.images} images; {len(result.skipped)} step(s) skipped (see manifest.json for why).

{_file_lines(result)}

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


def _file_lines(result: ExportResult) -> str:
    lines = [f"- `{DATA_FILE}`: the {result.action_rows} action rows"] if result.action_rows else []
    if result.grounding_rows:
        lines.append(f"- `{GROUNDING_FILE}`: the {result.grounding_rows} grounding rows (`tap` steps)")
    return "\n".join(lines)


def _options(arguments: list[str]) -> list[list[str]]:
    """The arguments split at each ``--flag``: a flag and its values (``--dataset`` may have several)."""
    options: list[list[str]] = []
    for argument in arguments:
        if argument.startswith("--") or not options:
            options.append([argument])
        else:
            options[-1].append(argument)
    return options


def _shell_word(value: str) -> str:
    """``value`` for a shell command line; ``$PWD`` is left for the shell to expand (in double quotes)."""
    return '"$PWD"' if value == "$PWD" else shlex.quote(value)
