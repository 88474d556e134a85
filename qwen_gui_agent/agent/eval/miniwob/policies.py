"""Who plays the episodes: a model (any backend), the reference policy through the agent, or it through Selenium.

``model``: the backend the model flags name, shared by every worker (a local model batched across
the displays, an OpenAI-compatible server asked concurrently); a scripted backend is each episode's
own, replayed from its first answer. ``reference``: the reference policy answering as a model of
the chosen dialect, one per episode, through the same agent path. ``selenium``: the reference
policy's moves sent through Selenium, no agent in between: the upper bound.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ....tools.dialects import get_dialect
from ...backends import create_backend
from ...backends.base import ModelBackend
from ...backends.settings import BackendSettings
from ...runtime.session import LoopSettings
from ...suite.guard import StopSignal
from .episode import AgentPath, EpisodeResult, play_through_agent, play_through_selenium
from .reference.backend import REFERENCE_MODEL, ReferenceBackend
from .reference.catalog import SOLVERS
from .reference.labels import LabellingBackend
from .reference.misses import Misses
from .reference.page import Page
from .task_env import TaskEnv

Policy = Literal["model", "reference", "selenium"]
POLICIES: tuple[str, ...] = ("model", "reference", "selenium")


@dataclass(frozen=True)
class PlaySettings:
    policy: Policy
    max_steps: int
    settle_s: float
    dialect: str | None = None  # model and reference
    coordinates: str | None = None
    backend: BackendSettings | None = None  # model and reference: frame bounds, and the model's own settings
    model_info: Mapping[str, Any] | None = None
    misses: int = 0  # reference: its first N pointing moves land on blank page (recovery demonstrations)


class QuietEvents:
    """Per-step events of the episodes: none on the console (one line per episode is printed instead)."""

    def emit(self, event: str, data: dict[str, Any]) -> None:
        return None


class SharedModel:
    """The model backend every worker asks: created on first use, closed once at the end."""

    def __init__(self, settings: BackendSettings, *, parallel: int) -> None:
        self._settings = settings
        self._parallel = parallel
        self._lock = threading.Lock()
        self._backend: ModelBackend | None = None

    def get(self) -> ModelBackend:
        if self._settings.kind == "scripted":  # each episode plays its own script from its first answer
            return create_backend(self._settings)
        with self._lock:  # the first worker loads the weights; the others wait for them here
            if self._backend is None:
                backend = create_backend(self._settings)
                if self._settings.kind == "local" and self._parallel > 1:
                    from ...backends.batching import BatchingBackend

                    backend = BatchingBackend(backend, max_batch=self._parallel)
                self._backend = backend
            return self._backend

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


def player(
    settings: PlaySettings, runs_dir: Path, stop: StopSignal, shared: SharedModel | None
) -> Callable[[TaskEnv, int], EpisodeResult]:
    """The function that plays one seed of a task's environment under ``settings``."""
    if settings.policy == "selenium":
        return lambda env, seed: play_through_selenium(
            env, seed, SOLVERS[env.task], max_steps=settings.max_steps, settle_s=settings.settle_s
        )
    assert settings.backend is not None and settings.dialect is not None
    dialect = get_dialect(settings.dialect, coordinates=settings.coordinates)  # type: ignore[arg-type]
    loop = LoopSettings(
        max_steps=settings.max_steps,
        settle_s=settings.settle_s,
        frame=settings.backend.frame,
        max_new_tokens=settings.backend.max_new_tokens,
    )

    def backend_for(page: Page, env: TaskEnv) -> ModelBackend:
        if settings.policy == "reference":
            misses = Misses(settings.misses, env.current.seed) if settings.misses and env.current else None
            return ReferenceBackend(SOLVERS[env.task].solve, page, env.area, dialect, misses)
        assert shared is not None
        if env.task in SOLVERS:  # the reference labels each page the model answers (reference/labels.py)
            return LabellingBackend(shared.get(), SOLVERS[env.task].solve, page)
        return shared.get()

    path = AgentPath(
        dialect=dialect,
        loop=loop,
        backend_for=backend_for,
        model_info=dict(settings.model_info or {}),
        events=QuietEvents(),
        stop=stop,
    )
    return lambda env, seed: play_through_agent(env, seed, path, runs_dir)


def reference_model_info(dialect: str, coordinates: str, backend: BackendSettings, misses: int = 0) -> dict[str, Any]:
    """What a reference episode's run.json says about its "model" (and its deliberate misses, if any)."""
    return {
        **({"misses": misses} if misses else {}),
        "backend": "reference",
        "model": REFERENCE_MODEL,
        "dialect": dialect,
        "coordinates": coordinates,
        "min_pixels": backend.min_pixels,
        "max_pixels": backend.max_pixels,
        "patch_factor": backend.patch_factor,
    }
