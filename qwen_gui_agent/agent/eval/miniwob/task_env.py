"""One MiniWoB++ task as a gymnasium environment whose Chromium window is visible on an X display.

The miniwob package's ``MiniWoBEnvironment`` does the benchmark's part: it loads the task page,
seeds and starts each episode (``reset(seed)``), extracts the instruction (utterance) and its
fields, and reads the reward the page's own reward function gave. Two things differ from its
``render_mode="human"``: the window is started by ``browser.open_driver`` (the display, zoom,
scale, ``--no-sandbox``), and the page's 10-30 s episode timer is replaced by ``time_limit_s``
(none by default: the step budget bounds an episode, so a slow model is not timed out by the
page, and the reward is not discounted for time). The window belongs to a ``BrowserWindow`` that
outlives the task: the next task's page is loaded into it. The "START" cover a finished episode shows
ignores clicks, so an agent clicking on after the end cannot start a new episode unseen.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

from .browser import BrowserError, BrowserWindow, measure_page
from .view import TASK_HEIGHT, TASK_WIDTH, CssRect, TaskArea

log = logging.getLogger(__name__)

NO_TIME_LIMIT_MS = 2**31 - 1  # the largest delay setTimeout keeps (24.8 days)
_PAGE_SETUP = """
core.EPISODE_MAX_TIME = arguments[0];
if (core.cover_div) { core.cover_div.onclick = null; }
var wrap = document.getElementById('wrap').getBoundingClientRect();
return [wrap.left, wrap.top, wrap.width, wrap.height];
"""


@dataclass(frozen=True)
class EpisodeStart:
    """What the environment says when an episode starts."""

    task: str
    seed: int
    utterance: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EnvState:
    """The page's verdict: ``reward`` is the environment's (time-discounted), ``raw_reward`` the task's own."""

    done: bool
    reward: float
    raw_reward: float
    reason: str

    @property
    def success(self) -> bool:
        return self.done and self.raw_reward > 0


def env_id(task: str) -> str:
    return f"miniwob/{task}-v1"


@functools.cache
def _environment_class() -> type:
    """MiniWoBEnvironment whose Selenium instance opens our window (built on first use: miniwob is an extra)."""
    from miniwob.environment import MiniWoBEnvironment
    from miniwob.selenium_instance import SeleniumInstance

    class VisibleInstance(SeleniumInstance):
        window: BrowserWindow

        def create_driver(self) -> None:
            self.driver = self.window.show(self.url)
            self.driver.implicitly_wait(0)  # lookups that find nothing answer at once
            self.inner_width, self.inner_height = self.driver.execute_script(
                "return [window.innerWidth, window.innerHeight];"
            )

        def close(self) -> None:
            self.died = True  # the window outlives the task: BrowserWindow.close quits it

    class VisibleEnvironment(MiniWoBEnvironment):
        def __init__(self, window: BrowserWindow, **kwargs: Any) -> None:
            self.window = window  # read by _hard_reset_instance, which the base __init__ calls
            super().__init__(**kwargs)

        def _hard_reset_instance(self) -> None:
            existing = getattr(self, "instance", None)
            if existing is not None:
                existing.close()
            instance = VisibleInstance(index=0, **self.instance_kwargs)
            instance.window = self.window
            self.instance = instance
            instance.start()
            instance.wait()

    return VisibleEnvironment


class TaskEnv:
    """A task's environment on one display: reset by seed, its state read back, its page measured on screen."""

    def __init__(self, task: str, window: BrowserWindow, *, time_limit_s: float | None = None) -> None:
        self.task = task
        self.display = display = window.display
        self.view = window.view
        from selenium.common.exceptions import WebDriverException

        try:
            environment = _environment_class()(
                window, subdomain=task, render_mode="human", reward_processor=_env_reward
            )
        except BrowserError:
            raise
        except (WebDriverException, RuntimeError) as error:  # the task page did not come up
            raise BrowserError(f"the task {task} did not load in Chromium on {display}: {_first_line(error)}") from None
        self._env = environment
        limit_ms = NO_TIME_LIMIT_MS if time_limit_s is None else round(time_limit_s * 1000)
        left, top, width, height = self.driver.execute_script(_PAGE_SETUP, limit_ms)
        if (round(width), round(height)) != (TASK_WIDTH, TASK_HEIGHT):
            log.warning("%s: the task area is %gx%g CSS px, not %dx%d", task, width, height, TASK_WIDTH, TASK_HEIGHT)
        self.area = TaskArea.of(measure_page(self.driver, display), CssRect(left, top, width, height))
        self.current: EpisodeStart | None = None

    @property
    def driver(self) -> Any:
        return self._env.unwrapped.instance.driver

    def reset(self, seed: int) -> EpisodeStart:
        """Start the episode ``seed`` (the same seed always makes the same problem)."""
        from selenium.common.exceptions import WebDriverException

        try:
            observation, _info = self._env.reset(seed=seed, options={"record_screenshots": False})
        except (WebDriverException, RuntimeError) as error:
            raise BrowserError(
                f"the task {self.task} could not start seed {seed} on {self.display}: {_first_line(error)}"
            ) from None
        self.current = EpisodeStart(
            task=self.task,
            seed=seed,
            utterance=str(observation["utterance"]),
            fields=tuple((str(key), str(value)) for key, value in observation["fields"]),
        )
        return self.current

    def state(self) -> EnvState:
        """Whether the episode is over, and its reward (the same metadata the environment's ``step`` returns)."""
        from selenium.common.exceptions import WebDriverException

        try:
            metadata = self._env.unwrapped.instance.get_metadata()
        except WebDriverException as error:
            raise BrowserError(
                f"the {self.task} browser on {self.display} stopped answering: {_first_line(error)}"
            ) from None
        return EnvState(
            done=bool(metadata["done"]),
            reward=float(metadata["env_reward"] or 0.0),
            raw_reward=float(metadata["raw_reward"] or 0.0),
            reason=str(metadata.get("reason") or ""),
        )

    def run_js(self, script: str, *arguments: Any) -> Any:
        """``script``'s value in the page; BrowserError when the browser is gone (a script's own error passes)."""
        from selenium.common.exceptions import JavascriptException, WebDriverException

        try:
            return self.driver.execute_script(script, *arguments)
        except JavascriptException:
            raise
        except WebDriverException as error:
            raise BrowserError(
                f"the {self.task} browser on {self.display} stopped answering: {_first_line(error)}"
            ) from None

    def close(self) -> None:
        try:
            self._env.close()
        except Exception as error:  # noqa: BLE001 - a page that died cannot close cleanly; nothing is lost
            log.info("closing the %s page on %s: %s", self.task, self.display, error)


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "msg", None) or error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else 'no message'}"


def _env_reward(metadata: dict[str, Any]) -> float:
    return float(metadata["env_reward"] or 0.0)
