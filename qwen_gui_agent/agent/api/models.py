"""Choosing the model in the Python API: ``BackendSettings`` (the CLI's settings object), built by three helpers.

``local_model("7b")`` loads weights with transformers, ``openai_model(...)``
talks to any OpenAI-compatible server (vLLM, SGLang, DashScope),
``scripted_model([...])`` plays back fixed answers (tests, CI). Each takes the
other ``BackendSettings`` fields as keywords. The dialect (how the model is
prompted and read) and its coordinates follow the model's name, as in
``agent run``, unless given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from ...tools.dialects import get_dialect
from ...tools.dialects.base import Coordinates, Dialect
from ...tools.models import model_setup
from ..backends import create_backend
from ..backends.base import ModelBackend
from ..backends.settings import DEFAULT_BASE_URL, DEFAULT_MODEL, BackendSettings


def local_model(model: str = DEFAULT_MODEL, **options: Any) -> BackendSettings:
    """Weights loaded in this process (``pip install 'qwen-gui-agent[local]'``): a hub id, short name or folder."""
    return BackendSettings(kind="local", model=model, **options)


def openai_model(
    model: str = DEFAULT_MODEL, *, base_url: str = DEFAULT_BASE_URL, api_key: str | None = None, **options: Any
) -> BackendSettings:
    """A model behind an OpenAI-compatible ``/v1/chat/completions`` server; ``model`` is its served name."""
    key = SecretStr(api_key) if api_key else None
    return BackendSettings(kind="openai", model=model, base_url=base_url, api_key=key, **options)


def scripted_model(answers: Iterable[str] | str | Path, **options: Any) -> BackendSettings:
    """Fixed answers, in order: a list, an answers file, or a recorded run directory (its answers replayed)."""
    script = Path(answers) if isinstance(answers, (str, Path)) else tuple(answers)
    return BackendSettings(kind="scripted", script=script, **options)


@dataclass(frozen=True)
class StartedModel:
    """A backend ready to answer, the dialect it is prompted in, and what the run records about it."""

    backend: ModelBackend
    dialect: Dialect
    info: dict[str, Any]
    settings: BackendSettings | None  # None when the caller passed a backend object
    owned: bool  # started here, so closed here


def start_model(
    model: BackendSettings | ModelBackend | str | None,
    *,
    dialect: str | None = None,
    coords: Coordinates | None = None,
) -> StartedModel:
    """Start the backend ``model`` names (a string is a local model's name; None the default local model).

    Raises the backend's ``BackendError`` (with a hint) when it cannot start, and
    ValueError for an unknown dialect.
    """
    if isinstance(model, ModelBackend):
        chosen = get_dialect(dialect or "qwen", coordinates=coords or "absolute")
        info = {
            "backend": getattr(model, "name", type(model).__name__),
            "dialect": chosen.name,
            "coordinates": "relative" if chosen.relative else "absolute",
        }
        return StartedModel(backend=model, dialect=chosen, info=info, settings=None, owned=False)
    settings = local_model(model) if isinstance(model, str) else (model or BackendSettings())
    setup = model_setup(settings.model, dialect=dialect, coordinates=coords)  # the CLI's rule, from the registry
    if setup.match is None and dialect and settings.frame == model_setup(settings.model).frame:
        # A served name the registry does not know, named by its dialect: that dialect's family's frame,
        # as `agent run --dialect` gives it (unless the caller set the bounds).
        settings = settings.model_copy(
            update={
                "min_pixels": setup.frame.min_pixels,
                "max_pixels": setup.frame.max_pixels,
                "patch_factor": setup.frame.factor,
            }
        )
    chosen = get_dialect(
        setup.dialect, coordinates=setup.coordinates
    )  # before the backend: a bad name loads no weights
    backend = create_backend(settings)
    info = {**settings.public_dict(), "dialect": chosen.name, "coordinates": setup.coordinates}
    return StartedModel(backend=backend, dialect=chosen, info=info, settings=settings, owned=True)
