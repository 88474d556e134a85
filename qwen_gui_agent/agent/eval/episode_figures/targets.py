"""The reference policy's trajectory for each seed: each step's kind of action and the element it aimed at.

Each seed's problem is the same whoever plays it (MiniWoB++ seeds its page). The reference policy
plays each seed through the agent's own path, exactly as ``agent eval miniwob --policy
reference`` does (the same view, frame and dialect as the eval it is compared with, since the
distance a wheel click scrolls depends on the zoom), and each move it makes is kept with the
rectangle of the element under each of its points (``document.elementFromPoint``, widened to the
control it belongs to) as a share of the 160x210 task area. A model's click "hits" when it lands
inside that rectangle; a point thrown at random over the screenshot hits it with the rectangle's
share of the area: the chance rate.

``targets.json`` in the folder given is resumable (seeds already there are not played again);
the reference's runs are kept beside it under ``runs/``, ordinary run directories.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ....tools.dialects import get_dialect
from ....tools.frames import FrameBounds
from ...runtime.session import LoopSettings
from ...suite.guard import StopSignal
from ..miniwob.browser import BrowserWindow
from ..miniwob.displays import xvfb_displays
from ..miniwob.episode import AgentPath, play_through_agent
from ..miniwob.policies import QuietEvents
from ..miniwob.reference.backend import REFERENCE_MODEL, ReferenceBackend, next_move
from ..miniwob.reference.catalog import SOLVERS
from ..miniwob.reference.labels import Box, box_at
from ..miniwob.reference.moves import Move
from ..miniwob.reference.page import Page
from ..miniwob.requirements import check_packages, find_browser
from ..miniwob.task_env import TaskEnv
from ..miniwob.view import View

TARGETS_FILE = "targets.json"
RUNS_FOLDER = "runs"


@dataclass(frozen=True)
class ReferenceStep:
    kind: str  # the move's kind: click, double_click, drag, scroll, type, hotkey, wait, finished
    targets: tuple[Box, ...] = ()  # one per point of the move (a drag: where it starts, where it ends)


@dataclass(frozen=True)
class ReferenceEpisode:
    task: str
    seed: int
    utterance: str
    steps: tuple[ReferenceStep, ...]
    raw_reward: float
    done: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReferenceEpisode:
        steps = tuple(
            ReferenceStep(kind=step["kind"], targets=tuple(Box(**box) for box in step["targets"]))
            for step in data["steps"]
        )
        return cls(
            task=data["task"],
            seed=int(data["seed"]),
            utterance=data["utterance"],
            steps=steps,
            raw_reward=float(data["raw_reward"]),
            done=bool(data["done"]),
        )


@dataclass
class TargetsFile:
    """``targets.json``: the reference episodes by ``task/seed``."""

    path: Path
    episodes: dict[str, ReferenceEpisode] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> TargetsFile:
        path = Path(folder) / TARGETS_FILE
        if not path.is_file():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, {key: ReferenceEpisode.from_json(value) for key, value in data["episodes"].items()})

    def get(self, task: str, seed: int) -> ReferenceEpisode | None:
        return self.episodes.get(f"{task}/{seed}")

    def add(self, episode: ReferenceEpisode) -> None:
        self.episodes[f"{episode.task}/{episode.seed}"] = episode
        temporary = self.path.with_name(self.path.name + ".tmp")
        document = {"episodes": {key: asdict(value) for key, value in self.episodes.items()}}
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)


@dataclass(frozen=True)
class ReferencePlay:
    """How the reference plays: as the eval it is compared with (view, dialect, frame bounds, steps, settle)."""

    view: View = field(default_factory=lambda: View(zoom=1.0, scale=1.0))
    dialect: str = "qwen"
    frame: FrameBounds = field(default_factory=FrameBounds)
    max_steps: int = 15
    settle_s: float = 0.4


def record_targets(
    folder: Path,
    tasks: Iterable[str],
    seeds: Iterable[int],
    play: ReferencePlay = ReferencePlay(),
    *,
    environ: Mapping[str, str] | None = None,
    on_episode: Callable[[ReferenceEpisode], None] | None = None,
) -> TargetsFile:
    """Play the reference on every (task, seed) not yet in ``folder/targets.json``, on a fresh Xvfb display."""
    check_packages()
    binaries = find_browser(dict(os.environ if environ is None else environ))
    Path(folder).mkdir(parents=True, exist_ok=True)
    targets = TargetsFile.load(folder)
    todo = [(task, seed) for task in tasks for seed in seeds if targets.get(task, seed) is None]
    if not todo:
        return targets
    with xvfb_displays(1, play.view.screen_size()) as (display,):
        window = BrowserWindow(display, play.view, binaries)
        try:
            for task in dict.fromkeys(task for task, _ in todo):
                env = TaskEnv(task, window)
                try:
                    for seed in (seed for name, seed in todo if name == task):
                        episode = play_reference(env, seed, play, Path(folder) / RUNS_FOLDER)
                        targets.add(episode)
                        if on_episode is not None:
                            on_episode(episode)
                finally:
                    env.close()
        finally:
            window.close()
    return targets


class _RecordingSolver:
    """The task's solver, each move kept with the rectangles of the elements under its points."""

    def __init__(self, solve: Callable[[Page], Move]) -> None:
        self._solve = solve
        self.steps: list[ReferenceStep] = []

    def __call__(self, page: Page) -> Move:
        move = next_move(self._solve, page)  # a solver that gives up answers finished (failure)
        self.steps.append(ReferenceStep(kind=move.kind, targets=tuple(box_at(page, point) for point in move.points())))
        return move


def play_reference(env: TaskEnv, seed: int, play: ReferencePlay, runs_dir: Path) -> ReferenceEpisode:
    """One seed played by the reference policy through the agent's path; its moves and their targets."""
    dialect = get_dialect(play.dialect)
    solver = _RecordingSolver(SOLVERS[env.task].solve)
    path = AgentPath(
        dialect=dialect,
        loop=LoopSettings(max_steps=play.max_steps, settle_s=play.settle_s, frame=play.frame),
        backend_for=lambda page, task_env: ReferenceBackend(solver, page, task_env.area, dialect),
        model_info={
            "backend": "reference",
            "model": REFERENCE_MODEL,
            "dialect": dialect.name,
            "min_pixels": play.frame.min_pixels,
            "max_pixels": play.frame.max_pixels,
        },
        events=QuietEvents(),
        stop=StopSignal(),
    )
    result = play_through_agent(env, seed, path, runs_dir)
    return ReferenceEpisode(
        task=env.task,
        seed=seed,
        utterance=result.utterance,
        steps=tuple(solver.steps),
        raw_reward=result.raw_reward,
        done=result.done,
    )
