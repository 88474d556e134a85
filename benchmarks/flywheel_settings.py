"""benchmarks/flywheel.py's settings: the tasks, the episodes of each kind, the model's training, its command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.small_qwen import SIZES

STAGES = ("record", "export", "build", "read", "train", "reference", "eval", "table")
TASKS = ("click-test", "enter-text", "choose-list", "scroll-text-2", "drag-box")
UITARS_TASKS = ("click-test", "enter-text")
# enter-text's recovery runs in UI-TARS's dialect made its step 2 ambiguous for the small model (after a
# click on the field: type; after a miss: click the field): it wrote the one's thought and the other's
# action on all 20 held-out seeds (docs/finetune.md). The qwen dialect learnt the same data.
UITARS_RECOVERY_TASKS = ("click-test",)
RECOVERY_SEED = 50000  # the recovery demonstrations' first seed: apart from the clean ones and the held-out ones
RECOVERY_SEED_STRIDE = 10000  # each count of misses plays its own seeds: 50000.., 60000.., below the held-out ones
MAX_MISSES = 4


def recovery_seed(misses: int) -> int:
    return RECOVERY_SEED + (misses - 1) * RECOVERY_SEED_STRIDE


def recovery_name(dialect: str, episodes: int, misses: int) -> str:
    """The recovery set's folder under demos/ (one miss keeps the earlier runs' name, so they are reused)."""
    return f"{dialect}-recovery-{episodes}" + (f"-misses-{misses}" if misses > 1 else "")


@dataclass(frozen=True)
class Settings:
    out: Path
    tasks: tuple[str, ...]
    uitars_tasks: tuple[str, ...]
    train_episodes: int
    uitars_episodes: int
    more_episodes: dict[str, int]  # per task, instead of train_episodes (qwen)
    recovery_episodes: int  # per task, dialect and count of deliberate misses
    recovery_misses: tuple[int, ...]  # one set of recovery runs for each count
    uitars_recovery_tasks: tuple[str, ...]
    merges: str
    model_size: str  # a key of tests/support/small_qwen.py's SIZES
    heldout_seed: int
    heldout_episodes: int
    zoom: float
    max_pixels: int
    max_steps: int
    train_steps: int
    batch: int
    learning_rate: float
    reading_steps: int  # 0: no reading stage; the main training starts from random weights
    reading_learning_rate: float
    typing_repeats: int  # the main training sees the rows that type the asked word this many more times
    kind_repeats: dict[str, int]  # the main training sees the rows whose answer is this kind this many more times
    training_seed: int
    init_seed: int  # the build's random initial weights (the vocabulary does not depend on it)
    torch_device: str
    parallel: int
    keep_model: Path | None
    stages: tuple[str, ...]
    workers: int
    save_every: int | None
    max_new_tokens: int

    def recovery_tasks(self, dialect: str) -> tuple[str, ...]:
        if dialect == "uitars":
            return tuple(task for task in self.uitars_recovery_tasks if task in self.uitars_tasks)
        return self.tasks

    def dialects(self) -> dict[str, tuple[str, ...]]:
        return {"qwen": self.tasks, **({"uitars": self.uitars_tasks} if self.uitars_tasks else {})}


def parse_settings(argv: Sequence[str] | None, description: str) -> Settings:
    """The command line's settings (see --help)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, required=True, help="work folder (stages done there are skipped)")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument(
        "--uitars-tasks",
        default=",".join(UITARS_TASKS),
        help="also recorded and played in UI-TARS's dialect ('' for none)",
    )
    parser.add_argument("--train-episodes", type=int, default=250, help="training seeds 0..N-1 of each task")
    parser.add_argument("--uitars-episodes", type=int, default=400)
    parser.add_argument(
        "--recovery-episodes",
        type=int,
        default=100,
        help="seeds of each task and dialect played with deliberate misses (--recovery-misses), then the recovery "
        "(0: none)",
    )
    parser.add_argument(
        "--recovery-misses",
        default="1,2",
        help="deliberate misses before the recovery, one set of recovery runs for each count (say 1,2: the "
        "screens after a second miss too); each set plays its own seeds",
    )
    parser.add_argument(
        "--uitars-recovery-tasks",
        default=",".join(UITARS_RECOVERY_TASKS),
        help="the UI-TARS tasks that get recovery runs ('' for none)",
    )
    parser.add_argument(
        "--episodes-of",
        action="append",
        default=["click-test=1000"],
        metavar="TASK=N",
        help="training seeds of one task, instead of --train-episodes (position needs many: click-test=1000)",
    )
    parser.add_argument(
        "--merges",
        choices=("phrases", "words"),
        default="phrases",
        help="the BPE's merges: across spaces (rows of ~135 tokens) or inside words only (six times longer: for a GPU)",
    )
    parser.add_argument(
        "--model-size",
        choices=tuple(SIZES),
        default="small",
        help="the model's sizes (tests/support/small_qwen.py): small (2.3 M parameters, a CPU trains it in "
        "~40 min) or medium (~12 M, for a GPU)",
    )
    parser.add_argument("--heldout-seed", type=int, default=100000, help="the first held-out seed")
    parser.add_argument("--heldout-episodes", type=int, default=20)
    parser.add_argument("--zoom", type=float, default=1.0, help="page zoom: the 160x210 task area at zoom x 1 px")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=18816,
        help="frame bound: 18816 makes 160x210 a 112x140 frame (20 image tokens)",
    )
    parser.add_argument("--max-steps", type=int, default=8, help="model steps per episode")
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--reading-steps",
        type=int,
        default=0,
        help="first train this many steps on the rows that type the word their task asks for (enter-text), "
        "then all the rows from there (0: no such stage)",
    )
    parser.add_argument("--reading-learning-rate", type=float, default=3e-3)
    parser.add_argument(
        "--typing-repeats",
        type=int,
        default=0,
        help="the main training also sees the rows that type the word their task asks for (enter-text) this "
        "many more times, unchanged from the export (0: each row once)",
    )
    parser.add_argument(
        "--repeat-kind",
        action="append",
        default=[],
        metavar="KIND=N",
        help="the main training also sees the rows whose answer is an action of KIND (scroll, type, drag, hotkey, "
        "click) N more times, unchanged from the export (repeatable)",
    )
    parser.add_argument(
        "--training-seed",
        type=int,
        default=42,
        help="swift sft's seed (the rows' order): the same rows and seed train the same model on one machine",
    )
    parser.add_argument(
        "--init-seed",
        type=int,
        default=0,
        help="the build stage's seed for the random initial weights (--training-seed orders the rows, from the same "
        "weights); a new seed needs a new build (delete model-init/)",
    )
    parser.add_argument("--torch-device", default="cpu", help="where swift sft and the eval run (cpu, cuda)")
    parser.add_argument("--parallel", type=int, default=2, help="episodes at once when recording and in the eval")
    parser.add_argument("--keep-model", type=Path, default=None, help="copy the trained model here (bf16)")
    parser.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="the stages to run (all by default): "
        "train alone runs on a GPU machine that has the work folder's data/ and model-init/",
    )
    parser.add_argument("--workers", type=int, default=0, help="ms-swift's data loader processes")
    parser.add_argument("--save-every", type=int, default=None, help="also save a checkpoint every N steps")
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=64,
        help="the answer's token cap in the eval: the longest exported answer is 22 tokens of the small "
        "tokenizer; the random model runs to the cap at every step",
    )
    args = parser.parse_args(argv)
    stages = _names(args.stages)
    unknown = sorted(set(stages) - set(STAGES))
    if unknown:
        parser.error(f"unknown stage(s) {', '.join(unknown)}: choose from {', '.join(STAGES)}")
    counts = _names(args.recovery_misses)
    misses = tuple(sorted({int(count) for count in counts})) if all(count.isdigit() for count in counts) else ()
    if not misses or not all(1 <= count <= MAX_MISSES for count in misses):
        parser.error(f"--recovery-misses takes counts from 1 to {MAX_MISSES}, like 1,2")
    if args.typing_repeats < 0:
        parser.error("--typing-repeats takes 0 or more")
    if args.init_seed < 0:
        parser.error("--init-seed takes 0 or more")
    kind_repeats = {}
    for item in args.repeat_kind:
        kind, _, times = item.partition("=")
        if not kind.isidentifier() or not times.isdigit():  # the kind names a file under --out
            parser.error(f"--repeat-kind takes KIND=N, like scroll=8: not {item!r}")
        if int(times):  # KIND=0: each row once, as without the flag
            kind_repeats[kind] = int(times)
    return Settings(
        out=args.out,
        tasks=_names(args.tasks),
        uitars_tasks=_names(args.uitars_tasks),
        train_episodes=args.train_episodes,
        uitars_episodes=args.uitars_episodes,
        recovery_episodes=args.recovery_episodes,
        recovery_misses=misses,
        uitars_recovery_tasks=_names(args.uitars_recovery_tasks),
        more_episodes={task: int(count) for task, count in (item.split("=", 1) for item in args.episodes_of)},
        merges=args.merges,
        model_size=args.model_size,
        heldout_seed=args.heldout_seed,
        heldout_episodes=args.heldout_episodes,
        zoom=args.zoom,
        max_pixels=args.max_pixels,
        max_steps=args.max_steps,
        train_steps=args.train_steps,
        batch=args.batch,
        learning_rate=args.learning_rate,
        reading_steps=args.reading_steps,
        reading_learning_rate=args.reading_learning_rate,
        typing_repeats=args.typing_repeats,
        kind_repeats=kind_repeats,
        training_seed=args.training_seed,
        init_seed=args.init_seed,
        torch_device=args.torch_device,
        parallel=args.parallel,
        keep_model=args.keep_model,
        stages=stages,
        workers=args.workers,
        save_every=args.save_every,
        max_new_tokens=args.max_new_tokens,
    )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())
