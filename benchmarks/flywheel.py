"""The fine-tuning loop end to end: a model trained only from exported runs learns what the runs showed.

    python3 benchmarks/flywheel.py --out work/flywheel

1. record: the MiniWoB++ reference policy plays the tasks on training seeds through
   ``agent eval miniwob --policy reference`` (ordinary run directories), in the qwen dialect, and a
   set in UI-TARS's; and on other seeds with ``--misses N`` for each N of ``--recovery-misses`` (its
   first N pointing moves land on blank page, then it recovers: the screens after a missed click,
   which clean demonstrations never show);
2. export: ``agent export`` turns every run into ms-swift rows, as a user would (a deliberate miss
   stays in the later rows' history and is no answer to learn);
3. build: a small Qwen2.5-VL with random weights (tests/support/small_qwen.py: a BPE fitted to the
   exported text, each number 0..999 one token);
4. read (with ``--reading-steps N``): ``swift sft`` from the random weights on the exported rows that
   type the word their task asks for, alone (benchmarks/flywheel_train.py says why);
   train: ``swift sft`` (full training, the export README's command with the changes listed in
   ``train_arguments``) on all the rows, from the random weights or the reading stage's model, on the
   CPU or a GPU;
5. reference: the reference policy on the held-out seeds (its moves and the elements they aim at);
6. eval: ``agent eval miniwob --backend local`` with the random model (before) and the trained one
   (after) on the held-out seeds;
7. table: per task and dialect, before -> after: answers that parse, the right kind of action,
   clicks that hit beside chance, success and reward (qwen_gui_agent/agent/eval/episode_figures),
   each step judged by what the reference would do on the model's own page (and, beside it, by the
   reference's step of the same index on its own play).

Every stage writes into ``--out`` and is skipped when its output is there (delete a stage's folder to
run it again); ``flywheel.json`` holds the recipe, each stage's time, the loss curve and the figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.flywheel_commands import AGENT, run_logged  # noqa: E402
from benchmarks.flywheel_settings import Settings, parse_settings, recovery_name, recovery_seed  # noqa: E402
from benchmarks.flywheel_train import data_files, read_first, train  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv, __doc__.split("\n\n")[0])
    settings.out.mkdir(parents=True, exist_ok=True)
    report_path = settings.out / "flywheel.json"
    report: dict[str, Any] = json.loads(report_path.read_text()) if report_path.is_file() else {}
    report["settings"] = {
        key: str(value) if isinstance(value, Path) else value for key, value in settings.__dict__.items()
    }
    report.setdefault("stages", {})
    # "settings" is this command's; each command run on the folder keeps its own, with the stages it ran
    # (a model trained on a GPU with other steps keeps them after the evals run here).
    ran: dict[str, float] = {}
    report.setdefault("commands", []).append({"settings": report["settings"], "stages": ran})

    def stage(name: str, done: Path, work: Callable[[], Any], episodes: int | None = None) -> None:
        if name.split()[0] not in settings.stages:
            return
        if _finished(done, episodes):
            print(f"[{name}] done before ({done.relative_to(settings.out)} exists)")
            return
        print(f"[{name}] ...", flush=True)
        started = time.perf_counter()
        work()
        report["stages"][name] = ran[name] = round(time.perf_counter() - started, 1)
        report_path.write_text(json.dumps(report, indent=1))
        print(f"[{name}] {report['stages'][name]:.0f} s", flush=True)

    out = settings.out
    for dialect, tasks in settings.dialects().items():
        for episodes, group in _episode_groups(settings, dialect, tasks).items():
            name = f"{dialect}-{episodes}"
            stage(
                f"record {name}",
                out / "demos" / name / "results.json",
                lambda n=name, d=dialect, t=group, e=episodes: _record(settings, n, d, t, e),
                episodes * len(group),
            )
        recovering = settings.recovery_tasks(dialect)
        for misses in settings.recovery_misses if settings.recovery_episodes and recovering else ():
            name = recovery_name(dialect, settings.recovery_episodes, misses)
            stage(
                f"record {name}",
                out / "demos" / name / "results.json",
                lambda n=name, d=dialect, t=recovering, m=misses: _record(
                    settings, n, d, t, settings.recovery_episodes, seed=recovery_seed(m), misses=m
                ),
                settings.recovery_episodes * len(recovering),
            )
    stage("export", out / "data" / "manifest.json", lambda: _export(settings))
    stage("build", out / "model-init" / "config.json", lambda: _build(settings))
    built_seed = _init_seed_built(out / "model-init")
    if (
        built_seed is not None
        and built_seed != settings.init_seed
        and {"build", "read", "train", "eval"} & set(settings.stages)
    ):
        # The build was skipped (its model is there): training or evaluating it under another seed would mislabel the run.
        print(
            f"{out / 'model-init'}: initial weights of --init-seed {built_seed}, not {settings.init_seed}; "
            f"pass --init-seed {built_seed}, or delete the folder to build the others",
            file=sys.stderr,
        )
        return 2
    if settings.reading_steps:
        stage("read", out / "model-reading" / "config.json", lambda: read_first(settings))
    stage("train", out / "model-trained" / "config.json", lambda: train(settings))
    for dialect, tasks in settings.dialects().items():
        stage(
            f"reference {dialect}",
            out / "heldout" / dialect / "done",
            lambda d=dialect, t=tasks: _reference(settings, d, t),
        )
        for model in ("init", "trained"):
            stage(
                f"eval {model} {dialect}",
                out / "eval" / f"{model}-{dialect}" / "results.json",
                lambda d=dialect, t=tasks, m=model: _eval(settings, m, d, t),
                settings.heldout_episodes * len(tasks),
            )
    if "table" in settings.stages:
        from benchmarks.flywheel_reading import measure as measure_reading
        from benchmarks.flywheel_table import loss_curve, markdown_table

        report["loss"] = loss_curve(out / "sft")
        report["figures"] = _figures(settings)
        report["data"] = _data_facts(out)
        # Whether the trained model reads the word its task asks to type (None: no such rows were exported).
        trained = out / "model-trained"
        report["reading"] = measure_reading(trained, out / "data") if (trained / "config.json").is_file() else None
        report_path.write_text(json.dumps(report, indent=1))
        table = markdown_table(report)
        (out / "table.md").write_text(table)
        print(table)
    if settings.keep_model is not None:
        _keep_model(out / "model-trained", settings.keep_model)
    return 0


def _built_facts(model: Path) -> dict[str, Any] | None:
    """What the build stage wrote of ``model`` (parameters.json: counts and the spec); None where it wrote none."""
    facts = model / "parameters.json"
    return json.loads(facts.read_text()) if facts.is_file() else None


def _init_seed_built(model: Path) -> int | None:
    """The seed the build stage gave ``model``'s random weights (None: not built here, or built before it was recorded)."""
    seed = (_built_facts(model) or {}).get("spec", {}).get("seed")
    return seed if isinstance(seed, int) else None


def _finished(done: Path, episodes: int | None) -> bool:
    """Whether a stage's output is there; for ``agent eval miniwob``, with every episode (an interrupted
    eval writes results.json with the episodes it played; running it again resumes in the same folder)."""
    if episodes is None or not done.is_file():
        return done.exists()
    return int(json.loads(done.read_text())["summary"]["overall"]["episodes"]) >= episodes


def _miniwob(settings: Settings, tasks: Sequence[str], *, seed: int, episodes: int) -> list[str]:
    return [
        "eval",
        "miniwob",
        *tasks,
        "--episodes",
        str(episodes),
        "--seed",
        str(seed),
        "--zoom",
        f"{settings.zoom:g}",
        "--max-pixels",
        str(settings.max_pixels),
        "--max-steps",
        str(settings.max_steps),
    ]


def _episode_groups(settings: Settings, dialect: str, tasks: Sequence[str]) -> dict[int, list[str]]:
    """The tasks by how many training seeds each plays (one ``agent eval miniwob`` each)."""
    groups: dict[int, list[str]] = {}
    for task in tasks:
        if dialect == "qwen":
            episodes = settings.more_episodes.get(task, settings.train_episodes)
        else:
            episodes = settings.uitars_episodes
        groups.setdefault(episodes, []).append(task)
    return groups


def _record(
    settings: Settings,
    name: str,
    dialect: str,
    tasks: Sequence[str],
    episodes: int,
    *,
    seed: int = 0,
    misses: int = 0,
) -> None:
    target = settings.out / "demos" / name
    run_logged(
        [
            *AGENT,
            *_miniwob(settings, tasks, seed=seed, episodes=episodes),
            "--policy",
            "reference",
            *(["--misses", str(misses)] if misses else []),
            "--dialect",
            dialect,
            "--parallel",
            str(settings.parallel),
            "--out",
            str(target),
        ],
        settings,
        settings.out / "logs" / f"record-{name}.log",
    )


def _export(settings: Settings) -> None:
    runs = sorted(str(run) for run in (settings.out / "demos").glob("*/runs/*/*") if (run / "run.json").is_file())
    run_logged(
        [*AGENT, "export", *runs, "-o", str(settings.out / "data")], settings, settings.out / "logs" / "export.log"
    )


def _build(settings: Settings) -> None:
    from dataclasses import replace

    from tests.support.small_qwen import SIZES, corpus_of_rows, save_small_qwen

    corpus = [text for path in data_files(settings.out) for text in corpus_of_rows(path)]
    spec = replace(SIZES[settings.model_size], merges=settings.merges, seed=settings.init_seed)
    save_small_qwen(settings.out / "model-init", corpus, spec)


def _reference(settings: Settings, dialect: str, tasks: Sequence[str]) -> None:
    from qwen_gui_agent.agent.eval.episode_figures.targets import ReferencePlay, record_targets
    from qwen_gui_agent.agent.eval.miniwob.view import View
    from qwen_gui_agent.tools.frames import FrameBounds

    folder = settings.out / "heldout" / dialect
    seeds = range(settings.heldout_seed, settings.heldout_seed + settings.heldout_episodes)
    play = ReferencePlay(
        view=View(zoom=settings.zoom),
        dialect=dialect,
        frame=FrameBounds(max_pixels=settings.max_pixels),
        max_steps=settings.max_steps,
    )
    record_targets(folder, tasks, seeds, play)
    (folder / "done").write_text("")


def _eval(settings: Settings, model: str, dialect: str, tasks: Sequence[str]) -> None:
    target = settings.out / "eval" / f"{model}-{dialect}"
    run_logged(
        [
            *AGENT,
            *_miniwob(settings, tasks, seed=settings.heldout_seed, episodes=settings.heldout_episodes),
            "--backend",
            "local",
            "--model",
            str(settings.out / f"model-{model}"),
            "--dialect",
            dialect,
            "--torch-device",
            settings.torch_device,
            "--max-new-tokens",
            str(settings.max_new_tokens),
            "--parallel",
            str(settings.parallel),
            "--out",
            str(target),
        ],
        settings,
        settings.out / "logs" / f"eval-{model}-{dialect}.log",
    )


def _figures(settings: Settings) -> dict[str, Any]:
    from qwen_gui_agent.agent.eval.episode_figures.figures import task_figures
    from qwen_gui_agent.agent.eval.episode_figures.targets import TargetsFile

    figures: dict[str, Any] = {}
    for dialect, tasks in settings.dialects().items():
        targets = TargetsFile.load(settings.out / "heldout" / dialect)
        for model in ("init", "trained"):
            results = settings.out / "eval" / f"{model}-{dialect}"
            figures[f"{model}-{dialect}"] = [row.to_json() for row in task_figures(results, targets, tasks)]
            # The older figure: each step beside the reference's step of the same index on its own play.
            by_index = task_figures(results, targets, tasks, on_page=False)
            figures[f"{model}-{dialect}-by-index"] = [row.to_json() for row in by_index]
    return figures


def _data_facts(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    config = json.loads((out / "model-init" / "config.json").read_text())
    return {
        "rows": manifest["rows"],
        "runs": len(manifest["runs"]),
        "dialects": manifest["dialects"],
        "vocab_size": config.get("text_config", config).get("vocab_size"),
        "parameters": _built_facts(out / "model-init"),
    }


def _keep_model(trained: Path, target: Path) -> None:
    """The trained model in bf16 with its tokenizer and processor: a small asset the tests load."""
    import torch
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(trained, dtype=torch.float32)
    target.mkdir(parents=True, exist_ok=True)
    model.to(torch.bfloat16).save_pretrained(target)
    AutoProcessor.from_pretrained(trained).save_pretrained(target)
    print(f"kept the trained model in {target}")


if __name__ == "__main__":
    raise SystemExit(main())
