"""One episode: a seed's problem played through the agent's own desktop path (or, for the upper bound, Selenium).

The agent's episode is an ordinary run: a task of one ``ai`` step (the instruction the environment
gave), a ``desktop::D`` device capturing the task area, the backend asked like any model, and the
environment as the run's outside judge (``end_check``): the run ends after the action that
finished the episode, as success when the task's own reward is positive. The run directory holds
``run.json``, ``steps.jsonl``, the screenshots, ``report.html`` and ``episode.json`` (the seed,
the instruction and the reward), and replays with ``agent replay --check`` like any run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ....devices import open_device
from ....devices.base import Device
from ....devices.desktop.settings import DesktopSettings
from ....devices.errors import DeviceError
from ....tasks.schema import AiStep, Task
from ....tools.dialects.base import Dialect
from ...backends.base import ModelBackend
from ...runtime.console import EventSink
from ...runtime.runner import RunParts, execute_run
from ...runtime.session import LoopSettings, StopRun
from ...suite.guard import GuardedBackend, GuardedDevice, StopSignal
from .browser import BrowserError
from .reference.backend import next_move
from .reference.catalog import TaskSolver
from .reference.labels import LabellingBackend, write_labels
from .reference.page import Page
from .reference.selenium_actor import SeleniumActor
from .task_env import EnvState, EpisodeStart, TaskEnv

EPISODE_FILE = "episode.json"
SCORED, ERROR, INTERRUPTED = "scored", "error", "interrupted"


@dataclass(frozen=True)
class EpisodeResult:
    task: str
    seed: int
    utterance: str
    outcome: str  # scored | error (not scored: tried again on resume) | interrupted
    success: bool = False
    raw_reward: float = 0.0
    reward: float = 0.0  # the environment's, discounted for time when the page's timer runs
    done: bool = False  # whether the environment ended the episode (else the agent stopped, or the budget did)
    reason: str = ""
    status: str = ""  # how the run ended (the agent's view): success, failure, budget, stuck, error ...
    message: str = ""
    steps: int = 0
    seconds: float = 0.0
    run_dir: str | None = None

    @property
    def id(self) -> str:
        return episode_id(self.task, self.seed)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "seed": self.seed,
            "utterance": self.utterance,
            "outcome": self.outcome,
            "success": self.success,
            "raw_reward": self.raw_reward,
            "reward": round(self.reward, 6),
            "done": self.done,
            "reason": self.reason,
            "status": self.status,
            "message": self.message,
            "steps": self.steps,
            "seconds": round(self.seconds, 3),
            "run_dir": self.run_dir,
        }


def episode_id(task: str, seed: int) -> str:
    return f"{task}/{seed}"


@dataclass(frozen=True)
class AgentPath:
    """How the agent plays: its dialect and loop settings, and the backend for an episode's page."""

    dialect: Dialect
    loop: LoopSettings
    backend_for: Callable[[Page, TaskEnv], ModelBackend]
    model_info: Mapping[str, Any]
    events: EventSink
    stop: StopSignal


class EpisodeJudge:
    """The environment as the run's outside judge: over once the page says done, with the page's reward."""

    def __init__(self, env: TaskEnv) -> None:
        self.env = env
        self.final: EnvState | None = None

    def __call__(self) -> StopRun | None:
        if self.final is None:
            try:
                state = self.env.state()
            except BrowserError as error:
                raise DeviceError(str(error), hint="the task's Chromium window stopped answering") from None
            self.final = state if state.done else None
        if self.final is None:
            return None
        return StopRun("success" if self.final.success else "failure", verdict(self.final))


def verdict(state: EnvState) -> str:
    reason = f" ({state.reason})" if state.reason else ""
    return f"MiniWoB++ ended the episode with reward {state.raw_reward:g}{reason}"


def play_through_agent(env: TaskEnv, seed: int, path: AgentPath, runs_dir: Path) -> EpisodeResult:
    """One episode through the agent's own desktop device; its run directory under ``runs_dir/TASK``."""
    start = env.reset(seed)
    page = Page(start.utterance, start.fields, env.run_js, env.area)
    device = _open_device(env)
    judge = EpisodeJudge(env)
    backend = path.backend_for(page, env)
    parts = RunParts(
        task=Task(name=f"{env.task} seed {seed}", steps=[AiStep(ai=start.utterance)]),
        device=GuardedDevice(device, path.stop),
        backend=GuardedBackend(backend, path.stop),
        dialect=path.dialect,
        settings=path.loop,
        events=path.events,
        out_dir=runs_dir / env.task,
        model_info=dict(path.model_info),
        end_check=judge,
        write_report=True,
    )
    started = time.perf_counter()
    try:
        result = execute_run(parts)
    finally:
        device.close()
    seconds = time.perf_counter() - started
    state = judge.final or _final_state(env)
    episode = _result(
        start,
        state,
        status=result.status,
        message=result.message,
        steps=result.steps,
        seconds=seconds,
        run_dir=str(result.run_dir),
    )
    write_episode_file(result.run_dir, episode, env)
    if isinstance(backend, LabellingBackend):
        write_labels(Path(result.run_dir), backend.labels)
    return episode


def play_through_selenium(
    env: TaskEnv, seed: int, solver: TaskSolver, *, max_steps: int, settle_s: float
) -> EpisodeResult:
    """The upper bound: the reference policy's moves played through Selenium directly, the same step budget."""
    start = env.reset(seed)
    page = Page(start.utterance, start.fields, env.run_js, env.area)
    actor = SeleniumActor(env.driver)
    started = time.perf_counter()
    steps, status, message = 0, "budget", f"the goal was not reached within {max_steps} steps"
    while steps < max_steps:
        if env.state().done:
            break
        move = next_move(solver.solve, page)
        steps += 1
        if move.kind == "finished":
            status, message = ("success" if move.success else "failure"), move.thought
            break
        actor.play(move)
        time.sleep(settle_s)
    state = env.state()
    if state.done:
        status, message = ("success" if state.success else "failure"), verdict(state)
    return _result(
        start, state, status=status, message=message, steps=steps, seconds=time.perf_counter() - started, run_dir=None
    )


def write_episode_file(run_dir: Path, episode: EpisodeResult, env: TaskEnv) -> None:
    """``episode.json`` beside the run: what the environment said, and how the task was shown."""
    data = {
        **episode.record(),
        "run_dir": None,
        "env_id": f"miniwob/{env.task}-v1",
        "view": env.view.describe(),
        "task_area": {"css": [160, 210], "screen_region": str(env.area.region)},
    }
    (Path(run_dir) / EPISODE_FILE).write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")


def _open_device(env: TaskEnv) -> Device:
    # desktop::D captures just the task area; xdotool drives that display (another than this process's).
    settings = DesktopSettings(display=env.display, region=env.area.region)
    return open_device(f"desktop:{env.display}", desktop=settings)


def _final_state(env: TaskEnv) -> EnvState:
    try:
        return env.state()
    except BrowserError:
        return EnvState(done=False, reward=0.0, raw_reward=0.0, reason="the browser stopped answering")


def _result(
    start: EpisodeStart, state: EnvState, *, status: str, message: str, steps: int, seconds: float, run_dir: str | None
) -> EpisodeResult:
    outcome = {"error": ERROR, "interrupted": INTERRUPTED}.get(status, SCORED)
    if state.done:
        outcome = SCORED  # the environment's verdict stands, however the run ended after it
    return EpisodeResult(
        task=start.task,
        seed=start.seed,
        utterance=start.utterance,
        outcome=outcome,
        success=state.success,
        raw_reward=state.raw_reward if state.done else 0.0,
        reward=state.reward if state.done else 0.0,
        done=state.done,
        reason=state.reason,
        status=status,
        message=message,
        steps=steps,
        seconds=seconds,
        run_dir=run_dir,
    )
