"""qwen-gui-agent, importable under one distinctive name.

The four rooms of the project live in this folder: ``agent/`` (the loop, backends, records, the
command line), ``devices/`` (desktop and Android drivers), ``tools/`` (the action language: actions,
dialects, frames, the model registry) and ``tasks/`` (task files). Inside the package every import
is relative, so the files alone say what imports what; ARCHITECTURE.md draws the rooms.

The Python API (docs/python.md) is importable from here: ``from qwen_gui_agent import open_agent``.
Its names are looked up on first use (PEP 562), so ``import qwen_gui_agent`` itself stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_API = ".agent.api"
# The names ``from qwen_gui_agent import ...`` offers; each is defined in qwen_gui_agent.agent.api.
API_NAMES = (
    "Agent",
    "AgentClosed",
    "AgentError",
    "AndroidSettings",
    "BackendError",
    "BackendSettings",
    "DesktopSettings",
    "DeviceError",
    "LogEvents",
    "LoopSettings",
    "QueryError",
    "RunResult",
    "ScreenAssertionError",
    "StepFailed",
    "WaitTimeoutError",
    "local_model",
    "open_agent",
    "openai_model",
    "scripted_model",
)


def __getattr__(name: str) -> Any:
    if name in API_NAMES:
        return getattr(import_module(_API, __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})


__all__ = ["__version__", *API_NAMES]
