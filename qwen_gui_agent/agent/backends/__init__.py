"""Model backends: local transformers, any OpenAI-compatible server, or scripted answers.

``create_backend(settings)`` builds the one the settings name. Each backend's
module is imported only when that backend is asked for, so the HTTP and
scripted backends work without torch installed.
"""

from __future__ import annotations

from .base import (
    BackendError,
    BackendRequestError,
    BackendUnavailable,
    Completion,
    ModelBackend,
    ScriptExhausted,
    Usage,
)
from .settings import DEFAULT_BASE_URL, DEFAULT_MODEL, BackendSettings, resolve_model_name


def create_backend(settings: BackendSettings) -> ModelBackend:
    """The backend ``settings.kind`` names, ready to answer (the local one loads its weights here)."""
    match settings.kind:
        case "local":
            from .local.backend import LocalBackend

            return LocalBackend(settings)
        case "openai":
            from .openai.backend import OpenAIBackend

            return OpenAIBackend(settings)
        case "scripted":
            from .scripted import ScriptedBackend

            if settings.script is None:
                raise BackendUnavailable(
                    "the scripted backend needs a script",
                    hint="pass --script with a recorded run directory or an answers file",
                )
            if isinstance(settings.script, tuple):
                return ScriptedBackend(settings.script)
            return ScriptedBackend.from_path(settings.script)


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "BackendError",
    "BackendRequestError",
    "BackendSettings",
    "BackendUnavailable",
    "Completion",
    "ModelBackend",
    "ScriptExhausted",
    "Usage",
    "create_backend",
    "resolve_model_name",
]
