"""benchmarks/flywheel.py's training: the export's ``swift sft`` command changed for the small model, run on its rows."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.flywheel_commands import REPO, SWIFT, environment, run_logged
from benchmarks.flywheel_reading import read_rows, typing_rows
from benchmarks.flywheel_settings import Settings

TEMPLATE_FILE = REPO / "tests" / "support" / "swift_small_vocab.py"
# LoRA and the stock template: what the export README says for a real checkpoint, not for training from scratch.
_DROPPED_FLAGS = {"--lora_rank", "--lora_alpha", "--target_modules", "--num_train_epochs", "--save_strategy"}


@dataclass(frozen=True)
class Training:
    """One ``swift sft`` run of the flywheel: from which model, on which rows, for how long, into which folders."""

    name: str  # its log (logs/NAME.log) and command (NAME-command.json)
    model: Path
    datasets: tuple[str, ...]  # swift sft's --dataset: files, and FILE#N for N rows of FILE (repeated past its end)
    steps: int
    learning_rate: float
    output: Path  # ms-swift's output_dir
    result: Path  # the last checkpoint, copied


def main_training(settings: Settings, repeats: Sequence[tuple[Path, int]] = ()) -> Training:
    """All the exported rows, from the model-init (or from model-reading when --reading-steps trained one);
    then each of ``repeats``' files for that many rows (--typing-repeats, --repeat-kind)."""
    out = settings.out
    return Training(
        name="train",
        model=out / ("model-reading" if settings.reading_steps else "model-init"),
        # the folder where it is now
        datasets=(*map(str, data_files(out)), *(f"{path}#{rows}" for path, rows in repeats)),
        steps=settings.train_steps,
        learning_rate=settings.learning_rate,
        output=out / "sft",
        result=out / "model-trained",
    )


def reading_training(settings: Settings) -> Training:
    """First, only the rows that type the word their task asks for: from random weights the model does not
    learn to copy a word of the task among all the rows, but does on these alone (docs/finetune.md)."""
    out = settings.out
    return Training(
        name="read",
        model=out / "model-init",
        datasets=(str(typing_rows_file(out)),),
        steps=settings.reading_steps,
        learning_rate=settings.reading_learning_rate,
        output=out / "sft-reading",
        result=out / "model-reading",
    )


def train_arguments(manifest: dict[str, Any], settings: Settings, training: Training | None = None) -> list[str]:
    """The export README's ``swift sft`` command, changed for training the small model from random weights."""
    training = training or main_training(settings)
    flags: dict[str, list[str]] = {}
    for part in manifest["swift_sft"][2:]:  # --flag value [value ...]: --dataset names one file or two
        if part.startswith("--"):
            flag = part
            flags[flag] = []
        else:
            flags[flag].append(part)
    for flag in _DROPPED_FLAGS:
        flags.pop(flag, None)
    changed: dict[str, str | list[str]] = {
        "--model": str(training.model),
        "--model_type": "qwen2_5_vl",
        "--dataset": [str(path) for path in training.datasets],
        "--template": "qwen2_5_vl_small_vocab",
        "--custom_register_path": str(TEMPLATE_FILE),
        "--tuner_type": "full",
        "--freeze_vit": "false",
        "--freeze_aligner": "false",
        "--torch_dtype": "float32",  # a few million parameters: full precision costs nothing
        "--per_device_train_batch_size": str(settings.batch),
        "--gradient_accumulation_steps": "1",
        "--learning_rate": f"{training.learning_rate:g}",
        "--lr_scheduler_type": "cosine",
        "--warmup_ratio": "0.05",
        "--weight_decay": "0.01",
        "--max_steps": str(training.steps),
        "--save_steps": str(settings.save_every or training.steps),
        "--save_only_model": "true",
        "--logging_steps": "10",
        "--output_dir": str(training.output),
        "--check_model": "false",
        "--gradient_checkpointing": "false",
        "--dataloader_num_workers": str(settings.workers),
        "--dataset_num_proc": str(max(1, settings.workers)),
        "--split_dataset_ratio": "0",
        "--report_to": "none",
        "--seed": str(settings.training_seed),
    }
    for flag, value in changed.items():
        flags[flag] = [value] if isinstance(value, str) else value
    return [part for flag, values in flags.items() for part in (flag, *values)]


def data_files(out: Path) -> list[Path]:
    """The export's data files (``train.jsonl``, and ``grounding.jsonl`` when the runs had tap steps)."""
    from qwen_gui_agent.agent.export.manifest import exported_files

    manifest = json.loads((out / "data" / "manifest.json").read_text())
    return [out / "data" / name for name, _ in exported_files(manifest)]


def typing_rows_file(out: Path) -> Path:
    return out / "reading" / "rows.jsonl"


def write_typing_rows(settings: Settings, flag: str) -> int:
    """The rows that type the asked word, unchanged from the export, in both dialects (so a training on them
    sees both answer forms), written for swift sft; how many there are. ``flag``: the option that asked."""
    rows = typing_rows(settings.out / "data")
    if not rows:
        raise SystemExit(
            f"{settings.out / 'data' / 'train.jsonl'}: no row types a word its task asks for; "
            f"record enter-text, or run with {flag} 0"
        )
    return _write_rows(typing_rows_file(settings.out), rows)


def write_kind_rows(settings: Settings, kind: str) -> tuple[Path, int]:
    """The rows whose answer is an action of ``kind``, unchanged from the export, written for swift sft."""
    # Here, not at the top: the agent's parsers bring the browser's and the desktop's imports, which a GPU
    # machine that only trains (--stages train) need not have.
    from benchmarks.flywheel_kinds import rows_of_kind

    rows = rows_of_kind(read_rows(settings.out / "data"), kind)
    if not rows:
        raise SystemExit(
            f"{settings.out / 'data' / 'train.jsonl'}: no row answers with a {kind} action; "
            f"drop --repeat-kind {kind}=N or record a task that needs one"
        )
    path = settings.out / "repeats" / f"{kind}.jsonl"
    return path, _write_rows(path, rows)


def _write_rows(path: Path, rows: list[dict[str, Any]]) -> int:
    """Rows as the export wrote them, one JSON line each, for swift sft; how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return len(rows)


def repeated_rows(settings: Settings) -> list[tuple[Path, int]]:
    """The files the main training reads again after the export's, and how many rows of each."""
    repeats = []
    if settings.typing_repeats:
        typing = write_typing_rows(settings, "--typing-repeats")
        repeats.append((typing_rows_file(settings.out), settings.typing_repeats * typing))
    for kind, times in settings.kind_repeats.items():
        path, rows = write_kind_rows(settings, kind)
        repeats.append((path, times * rows))
    return repeats


def train(settings: Settings) -> None:
    run_training(settings, main_training(settings, repeated_rows(settings)))


def read_first(settings: Settings) -> None:
    """The reading rows, then their training; UI-TARS's later turns still lose theirs after it (docs/finetune.md)."""
    write_typing_rows(settings, "--reading-steps")
    run_training(settings, reading_training(settings))


def run_training(settings: Settings, training: Training) -> None:
    out = settings.out
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    # The data folder where it is now (it may have moved to a GPU machine since the export).
    env = {**environment(settings), **manifest["environment"], "ROOT_IMAGE_DIR": str(out / "data")}
    arguments = train_arguments(manifest, settings, training)
    (out / f"{training.name}-command.json").write_text(
        json.dumps({"environment": manifest["environment"], "command": ["swift", "sft", *arguments]}, indent=1)
    )
    run_logged([*SWIFT, "sft", *arguments], settings, out / "logs" / f"{training.name}.log", env=env, cwd=out)
    checkpoint = max(training.output.glob(f"v*/checkpoint-{training.steps}"))
    shutil.copytree(checkpoint, training.result)
