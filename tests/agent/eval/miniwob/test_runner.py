"""Episodes on a pool of displays: each played once, a display's window kept across its tasks, a broken one retired.

The browser and the episode are stood in for by objects that do what the runner needs of them
(a task's environment opens in a display's window, an episode returns its result); the real ones
are played end to end in test_miniwob_e2e.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from qwen_gui_agent.agent.eval.miniwob.browser import BrowserError
from qwen_gui_agent.agent.eval.miniwob.episode import ERROR, SCORED, EpisodeResult
from qwen_gui_agent.agent.eval.miniwob.runner import EpisodeQueue, run_episodes
from qwen_gui_agent.agent.suite.guard import StopSignal


@dataclass
class Window:
    display: str
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass
class Env:
    task: str
    window: Window
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass
class Recorder:
    broken: set[str] = field(default_factory=set)
    windows: list[Window] = field(default_factory=list)
    opened: list[tuple[str, str]] = field(default_factory=list)  # (display, task)
    played: list[tuple[str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def open_window(self, display: str) -> Window:
        window = Window(display)
        with self.lock:
            self.windows.append(window)
        return window

    def open_env(self, task: str, window: Window) -> Env:
        if window.display in self.broken:
            raise BrowserError(f"Chromium did not start on {window.display}")
        with self.lock:
            self.opened.append((window.display, task))
        return Env(task, window)

    def play(self, env: Env, seed: int) -> EpisodeResult:
        with self.lock:
            self.played.append((env.task, seed, env.window.display))
        failed = env.task == "flaky" and seed == 1
        return EpisodeResult(
            task=env.task,
            seed=seed,
            utterance="do it",
            outcome=ERROR if failed else SCORED,
            success=not failed,
            status="error" if failed else "success",
            message="model backend: the server is gone" if failed else "",
        )


def run(recorder: Recorder, episodes: list[tuple[str, int]], displays: list[str], parallel: int):
    results: list[EpisodeResult] = []
    report = run_episodes(
        episodes,
        displays,
        parallel=parallel,
        open_window=recorder.open_window,  # type: ignore[arg-type]
        open_env=recorder.open_env,
        play=recorder.play,
        on_result=results.append,  # type: ignore[arg-type]
        stop=StopSignal(),
    )
    return report, results


def test_every_episode_is_played_once_and_a_window_serves_a_display_for_all_its_tasks() -> None:
    recorder = Recorder()
    episodes = [(task, seed) for task in ("click-test", "enter-text", "drag-box") for seed in range(4)]
    report, results = run(recorder, episodes, [":1", ":2"], parallel=2)
    assert sorted((task, seed) for task, seed, _ in recorder.played) == sorted(episodes)
    assert len(results) == len(episodes) and not report.not_run and not report.retired
    assert len(recorder.windows) == 2 and all(window.closed for window in recorder.windows)
    assert len(recorder.opened) == len(set(recorder.opened))  # a task opened at most once per display


def test_a_display_whose_browser_cannot_start_is_retired_and_the_others_play_on() -> None:
    recorder = Recorder(broken={":2"})
    episodes = [("click-test", seed) for seed in range(5)]
    report, _ = run(recorder, episodes, [":2", ":1"], parallel=1)  # the one worker meets the broken display first
    assert {display for _, _, display in recorder.played} == {":1"}
    assert sorted(seed for _, seed, _ in recorder.played) == list(range(5))
    assert list(report.retired) == [":2"] and not report.not_run


def test_a_failing_model_backend_stops_the_handing_out_of_episodes() -> None:
    recorder = Recorder()
    episodes = [("flaky", seed) for seed in range(6)]
    report, _ = run(recorder, episodes, [":1"], parallel=1)
    assert [seed for _, seed, _ in recorder.played] == [0, 1]
    assert report.halted == "model backend: the server is gone"
    assert report.not_run == [("flaky", seed) for seed in range(2, 6)]


def test_the_queue_hands_a_worker_its_own_task_first() -> None:
    queue = EpisodeQueue([("a", 0), ("b", 0), ("a", 1), ("b", 1)])
    assert queue.take("b") == ("b", 0)
    assert queue.take("b") == ("b", 1)
    assert queue.take("b") == ("a", 0)
    queue.give_back(("z", 9))
    assert queue.take(None) == ("z", 9)
