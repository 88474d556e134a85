"""Episodes on a pool of displays: each worker holds one display, opens a task's browser there, plays seeds.

The pool is the suites' (``agent.suite.pool.DevicePool``, its specs the X displays): a worker takes
a display for its whole life, keeps one Chromium window open on it (a start takes seconds; a task's
page loads into it in a fraction of one) and prefers the next episode of the task it has open. Each
episode's result is appended to the results log as it finishes, so a run stopped by Ctrl-C, a crash
or ``kill -9`` resumes where it was. A display whose browser cannot start is retired. A model
backend that fails stops the handing out of episodes (the eval exits 1; run it again to resume).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ...suite.guard import StopSignal
from ...suite.pool import DevicePool
from .browser import BrowserError, BrowserWindow
from .displays import DisplayError
from .episode import ERROR, EpisodeResult
from .task_env import TaskEnv

log = logging.getLogger(__name__)

OpenWindow = Callable[[str], BrowserWindow]  # a display -> a (not yet started) browser window on it
OpenEnv = Callable[[str, BrowserWindow], TaskEnv]  # a task's environment in the window; BrowserError when it fails
Play = Callable[[TaskEnv, int], EpisodeResult]


@dataclass
class RunReport:
    results: list[EpisodeResult] = field(default_factory=list)
    not_run: list[tuple[str, int]] = field(default_factory=list)
    retired: dict[str, str] = field(default_factory=dict)
    halted: str | None = None  # why no more episodes were handed out (a failing model backend)
    interrupted: bool = False


class EpisodeQueue:
    """The episodes left, handed out one at a time; a worker's own task first."""

    def __init__(self, episodes: list[tuple[str, int]]) -> None:
        self._left = list(episodes)
        self._lock = threading.Lock()
        self.halted: str | None = None

    def take(self, preferred_task: str | None) -> tuple[str, int] | None:
        with self._lock:
            if self.halted is not None or not self._left:
                return None
            index = next((i for i, (task, _) in enumerate(self._left) if task == preferred_task), 0)
            return self._left.pop(index)

    def give_back(self, episode: tuple[str, int]) -> None:
        with self._lock:
            self._left.insert(0, episode)

    def halt(self, reason: str) -> None:
        with self._lock:
            self.halted = self.halted or reason

    def left(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._left)


def run_episodes(
    episodes: list[tuple[str, int]],
    displays: list[str],
    *,
    parallel: int,
    open_window: OpenWindow,
    open_env: OpenEnv,
    play: Play,
    on_result: Callable[[EpisodeResult], None],
    stop: StopSignal,
) -> RunReport:
    """Play every episode on the displays, ``parallel`` at once; ``on_result`` gets each one as it ends."""
    queue = EpisodeQueue(episodes)
    pool = DevicePool(list(displays))
    report = RunReport()
    lock = threading.Lock()

    def finished(result: EpisodeResult) -> None:
        with lock:
            report.results.append(result)
        if result.outcome == ERROR and result.message.startswith("model backend"):
            queue.halt(result.message)
        on_result(result)

    count = max(1, min(parallel, len(displays), len(episodes)))
    done = threading.Semaphore(0)

    def worker() -> None:
        try:
            _worker(queue, pool, open_window, open_env, play, finished, stop)
        finally:
            done.release()

    for number in range(count):
        threading.Thread(target=worker, name=f"miniwob-worker-{number}", daemon=True).start()
    _wait(done, count, stop)
    report.not_run = queue.left()
    report.retired = pool.retired
    report.halted = queue.halted
    report.interrupted = stop.event.is_set()
    return report


def _worker(
    queue: EpisodeQueue,
    pool: DevicePool,
    open_window: OpenWindow,
    open_env: OpenEnv,
    play: Play,
    finished: Callable[[EpisodeResult], None],
    stop: StopSignal,
) -> None:
    """Play episodes on a display until none is left; a display whose browser fails is retired for another."""
    while not stop.event.is_set() and (display := pool.acquire(stop.event)) is not None:
        if _play_on(display, queue, pool, open_window, open_env, play, finished, stop):
            return


def _play_on(
    display: str,
    queue: EpisodeQueue,
    pool: DevicePool,
    open_window: OpenWindow,
    open_env: OpenEnv,
    play: Play,
    finished: Callable[[EpisodeResult], None],
    stop: StopSignal,
) -> bool:
    """Episodes on one display; False when its browser failed (the display is retired, the episode given back)."""
    window = open_window(display)
    env: TaskEnv | None = None
    try:
        while not stop.event.is_set() and (episode := queue.take(env.task if env else None)) is not None:
            task, seed = episode
            if env is None or env.task != task:
                if env is not None:
                    env.close()
                    env = None
                try:
                    env = open_env(task, window)
                except (BrowserError, DisplayError) as error:
                    log.warning("%s", error)
                    queue.give_back(episode)
                    pool.retire(display, str(error))
                    return False
            finished(_play_one(play, env, task, seed))
        return True
    finally:
        if env is not None:
            env.close()
        window.close()
        if display not in pool.retired:
            pool.release(display)


def _play_one(play: Play, env: TaskEnv, task: str, seed: int) -> EpisodeResult:
    try:
        return play(env, seed)
    except BrowserError as error:
        return EpisodeResult(task=task, seed=seed, utterance="", outcome=ERROR, status="error", message=str(error))
    except Exception as error:  # a worker records its episode whatever goes wrong, and lives on
        log.exception("episode %s seed %d stopped on an unexpected error", task, seed)
        return EpisodeResult(
            task=task, seed=seed, utterance="", outcome=ERROR, status="error", message=f"internal error: {error!r}"
        )


def _wait(done: threading.Semaphore, count: int, stop: StopSignal) -> None:
    """Wait for ``count`` workers; Ctrl-C stops the eval (running episodes end as interrupted) and waits on.

    (A semaphore, not Thread.join: a KeyboardInterrupt landing inside join can leave a thread looking
    finished while it still runs, as agent/suite/runner.py notes.)
    """
    finished = 0
    while finished < count:
        try:
            if done.acquire(timeout=0.2):
                finished += 1
        except KeyboardInterrupt as cause:
            if not stop.event.is_set():
                log.info("stopping the eval: %s", cause or "Ctrl-C")
                stop.stop(cause)
