"""Per-task step figures of an ``agent eval miniwob`` results folder, beside the reference's trajectory.

For every scored episode, each model step of its run directory is set beside what the reference
would do on that step's page: the label ``agent eval miniwob`` took before the model answered
(``reference_labels.json``, eval/miniwob/reference/labels.py). Where an episode has no usable labels
(an older run, or a solver that keeps notes of its own moves, as choose-list's), or with
``on_page=False``, the step is set beside the reference's step of the same index on its own play of
the seed (``targets``), which only says something while the model stays on the reference's path:

- parsed: the answer read as an action (a parse error is the model's mistake, fed back to it);
- right kind: its first action is the kind the reference made at that step (click, type, hotkey,
  scroll, drag ...), counted over the steps the reference also made;
- hit: at a reference step that points (a click, the start and end of a drag, a scroll's place),
  the model's action is of that kind and every point lies in the element the reference aimed at;
  chance is the share of the task area those elements cover (what a random point hits), and the
  fixed-point rate is how often the average target of that step (its centre, over the task's seeds)
  lies in the element: what a model with no eye for position gets by always aiming at the average;
- success and raw reward: the environment's own, from ``results.json``.

The episode ends where MiniWoB++ says so, so a model step with no reference step at its index
(the reference had finished by then) counts for parsing but not for kind or hit; a labelled step
always has its label.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ....tools.actions import Action
from ....tools.canonical import parse_action
from ....tools.errors import ActionParseError
from ....tools.frames import ModelFrame
from ...records.run_files import RunLoadError, StepRecord, load_run
from ..miniwob.reference.labels import StepLabel, read_labels
from .targets import ReferenceEpisode, ReferenceStep, TargetsFile

RESULTS_JSON = "results.json"  # what `agent eval miniwob` writes (eval/miniwob/results.py)
# Our action kinds under the reference's move names (double_click, not left_double; hotkey, not key).
_KIND_OF_ACTION = {
    "click": "click",
    "double_click": "double_click",
    "drag": "drag",
    "scroll": "scroll",
    "type": "type",
    "hotkey": "hotkey",
    "wait": "wait",
    "finished": "finished",
}


class FiguresError(ValueError):
    """A results folder the figures cannot be read from (says which file and why)."""


@dataclass(frozen=True)
class TaskFigures:
    task: str
    episodes: int = 0
    steps: int = 0  # model steps
    parsed: int = 0
    compared: int = 0  # model steps with a reference step at the same index
    right_kind: int = 0
    pointing: int = 0  # compared steps where the reference pointed at something
    hits: int = 0
    chance: float = 0.0  # mean share of the task area a random point would hit, over the pointing steps
    # Share of the pointing steps that the step's average target point hits, over the steps at an index the
    # reference's own play reaches (a labelled step past it has no average to aim at).
    fixed_point: float = 0.0
    successes: int = 0
    raw_reward: float = 0.0  # mean over episodes
    missing_targets: int = 0  # episodes with no reference trajectory for their seed (left out of kind and hit)
    on_page: int = 0  # episodes judged by the labels of their own pages (the others by the reference's steps)
    # The compared steps of the wrong kind, by "expected → answered" ("unparsed" for an answer that did
    # not parse): where the model leaves the reference's way, which a rate alone does not say.
    wrong_kinds: dict[str, int] = field(default_factory=dict)
    # The seeds of the episodes each of those came from: whether a kind of mistake is spread over the task or
    # sits on a few seeds that share something (a list whose wanted item is already chosen, say).
    wrong_kind_seeds: dict[str, list[int]] = field(default_factory=dict)
    # Model steps and the answers among them that parsed, at each step index (the first is step 1): where
    # answers break, such as past the longest history the model was trained on, which the rate averages away.
    steps_by_index: tuple[int, ...] = ()
    parsed_by_index: tuple[int, ...] = ()

    @property
    def parse_rate(self) -> float:
        return self.parsed / self.steps if self.steps else 0.0

    @property
    def kind_rate(self) -> float:
        return self.right_kind / self.compared if self.compared else 0.0

    @property
    def hit_rate(self) -> float:
        return self.hits / self.pointing if self.pointing else 0.0

    @property
    def success_rate(self) -> float:
        return self.successes / self.episodes if self.episodes else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "parse_rate": round(self.parse_rate, 4),
            "kind_rate": round(self.kind_rate, 4),
            "hit_rate": round(self.hit_rate, 4),
            "chance": round(self.chance, 4),
            "success_rate": round(self.success_rate, 4),
            "raw_reward": round(self.raw_reward, 4),
        }


@dataclass
class _Tally:
    steps: int = 0
    parsed: int = 0
    compared: int = 0
    right_kind: int = 0
    pointing: int = 0
    hits: int = 0
    chance_sum: float = 0.0
    fixed_steps: int = 0  # pointing steps at an index where the reference's own play has targets to average
    fixed_hits: int = 0
    wrong_kinds: Counter[str] = field(default_factory=Counter)
    wrong_kind_seeds: dict[str, set[int]] = field(default_factory=dict)
    steps_by_index: list[int] = field(default_factory=list)
    parsed_by_index: list[int] = field(default_factory=list)


def episode_records(results_folder: Path) -> list[dict[str, Any]]:
    """The scored episodes of a results folder (``results.json``)."""
    path = Path(results_folder) / RESULTS_JSON
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["episodes"])
    except FileNotFoundError:
        raise FiguresError(f"{path} does not exist: run `agent eval miniwob --out {results_folder}` first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise FiguresError(f"{path} is not an `agent eval miniwob` results file: {error}") from None


def task_figures(
    results_folder: Path, targets: TargetsFile, tasks: Iterable[str] | None = None, *, on_page: bool = True
) -> list[TaskFigures]:
    """The figures of each task of ``results_folder`` (in ``tasks`` order, or the results' own); ``on_page``:
    each step judged by the reference's label of its own page where the episode has usable labels."""
    records = episode_records(results_folder)
    order = list(tasks) if tasks is not None else list(dict.fromkeys(record["task"] for record in records))
    figures = []
    for task in order:
        mine = [record for record in records if record["task"] == task]
        tally, missing, labelled = _Tally(), 0, 0
        averages = average_targets([targets.get(task, int(record["seed"])) for record in mine])
        for record in mine:
            steps = _model_steps(Path(results_folder), record)
            labels = _usable_labels(Path(results_folder) / record["run_dir"], len(steps)) if on_page else None
            reference = targets.get(task, int(record["seed"]))
            missing += reference is None and labels is None
            labelled += labels is not None
            expected = labels if labels is not None else (reference.steps if reference is not None else ())
            _add_episode(tally, steps, expected, averages, seed=int(record["seed"]))
        figures.append(
            TaskFigures(
                task=task,
                episodes=len(mine),
                steps=tally.steps,
                parsed=tally.parsed,
                compared=tally.compared,
                right_kind=tally.right_kind,
                pointing=tally.pointing,
                hits=tally.hits,
                chance=tally.chance_sum / tally.pointing if tally.pointing else 0.0,
                fixed_point=tally.fixed_hits / tally.fixed_steps if tally.fixed_steps else 0.0,
                successes=sum(bool(record["success"]) for record in mine),
                raw_reward=sum(float(record["raw_reward"]) for record in mine) / len(mine) if mine else 0.0,
                missing_targets=missing,
                on_page=labelled,
                wrong_kinds=dict(tally.wrong_kinds.most_common()),
                wrong_kind_seeds={kinds: sorted(tally.wrong_kind_seeds[kinds]) for kinds in tally.wrong_kinds},
                steps_by_index=tuple(tally.steps_by_index),
                parsed_by_index=tuple(tally.parsed_by_index),
            )
        )
    return figures


def _model_steps(results_folder: Path, record: Mapping[str, Any]) -> list[StepRecord]:
    if not record.get("run_dir"):
        raise FiguresError(f"episode {record.get('id')} of {results_folder} has no run directory")
    run_dir = results_folder / record["run_dir"]
    try:
        return [step for step in load_run(run_dir).steps if step.kind == "ai"]
    except RunLoadError as error:  # a run that cannot be read makes every figure of its task wrong: stop
        raise FiguresError(f"{run_dir}: {error}") from None


def average_targets(episodes: Iterable[ReferenceEpisode | None]) -> dict[tuple[int, int], tuple[float, float]]:
    """(step index, point index) -> the mean centre of the reference's targets there, over the episodes given."""
    sums: dict[tuple[int, int], list[float]] = {}
    for episode in episodes:
        for position, step in enumerate(episode.steps if episode is not None else ()):
            for number, box in enumerate(step.targets):
                total = sums.setdefault((position, number), [0.0, 0.0, 0.0])
                total[0] += box.left + box.width / 2
                total[1] += box.top + box.height / 2
                total[2] += 1
    return {key: (x / count, y / count) for key, (x, y, count) in sums.items()}


def _usable_labels(run_dir: Path, steps: int) -> Sequence[StepLabel] | None:
    """The episode's labels when there is one for every step and each is of the page alone."""
    labels = read_labels(run_dir)
    if labels is None or len(labels) < steps:
        return None
    usable = [label for label in labels[:steps] if label is not None and not label.stateful]
    return usable if len(usable) == steps else None


def _add_episode(
    tally: _Tally,
    steps: list[StepRecord],
    expected_steps: Sequence[ReferenceStep | StepLabel],
    averages: Mapping[tuple[int, int], tuple[float, float]],
    *,
    seed: int,
) -> None:
    for position, step in enumerate(steps):
        action = _first_action(step)
        tally.steps += 1
        tally.parsed += action is not None
        if position == len(tally.steps_by_index):
            tally.steps_by_index.append(0)
            tally.parsed_by_index.append(0)
        tally.steps_by_index[position] += 1
        tally.parsed_by_index[position] += action is not None
        if position >= len(expected_steps):
            continue
        expected = expected_steps[position]
        tally.compared += 1
        same_kind = action is not None and action_kind(action) == expected.kind
        tally.right_kind += same_kind
        if not same_kind:
            kinds = f"{expected.kind} → {action_kind(action) if action is not None else 'unparsed'}"
            tally.wrong_kinds[kinds] += 1
            tally.wrong_kind_seeds.setdefault(kinds, set()).add(seed)
        if expected.targets:
            tally.pointing += 1
            tally.chance_sum += _chance(expected)
            tally.hits += same_kind and action is not None and _lands(action, expected, step)
            if all((position, number) in averages for number in range(len(expected.targets))):
                tally.fixed_steps += 1
                tally.fixed_hits += all(
                    box.contains(*averages[(position, number)]) for number, box in enumerate(expected.targets)
                )


def _first_action(step: StepRecord) -> Action | None:
    """The step's first parsed action, or None when its answer did not parse."""
    if (step.error is not None and step.error.kind == "parse") or not step.actions:
        return None
    try:
        return parse_action(step.actions[0])
    except ActionParseError:
        return None


def action_kind(action: Action) -> str:
    """An action's kind under the reference's names (click, double_click, drag, scroll, type, hotkey ...)."""
    name = str(getattr(action, "action", type(action).__name__.lower()))
    return _KIND_OF_ACTION.get(name, name)


def _lands(action: Action, expected: ReferenceStep | StepLabel, step: StepRecord) -> bool:
    points = action.points()
    if step.frame is None or len(points) < len(expected.targets):
        return False
    frame = ModelFrame(**step.frame.model_dump())
    extent_x, extent_y = frame.extent
    return all(
        box.contains(point.x / extent_x, point.y / extent_y)
        for point, box in zip(points, expected.targets, strict=False)
    )


def _chance(expected: ReferenceStep | StepLabel) -> float:
    chance = 1.0
    for box in expected.targets:
        chance *= box.area
    return chance
