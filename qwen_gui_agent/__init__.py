"""qwen-gui-agent, importable under one distinctive name.

The project's packages live at the top of the repository (agent/, devices/, tools/, tasks/), and
an install maps them under this package: ``qwen_gui_agent.tools.actions``, ``qwen_gui_agent.agent.cli``
and so on, so a user's own ``tools.py`` or ``tasks/`` never collides with ours.

In a source checkout (and an editable install) the four packages sit beside this folder rather than
inside it, so the package's search path is extended to the checkout: the same import names work in
a checkout, an editable install and a wheel.

The Python API (docs/python.md) is importable from here: ``from qwen_gui_agent import open_agent``.
Its names are looked up on first use (PEP 562), so ``import qwen_gui_agent`` itself stays light.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parent
if not (_HERE / "agent").is_dir() and (_CHECKOUT / "agent" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821 - a package's __path__, set by the import system

_API = "qwen_gui_agent.agent.api"
# The names ``from qwen_gui_agent import ...`` offers; each is defined in qwen_gui_agent.agent.api.
API_NAMES = (
    "Agent", "AgentClosed", "AgentError", "AndroidSettings", "BackendError", "BackendSettings", "DesktopSettings",
    "DeviceError", "LogEvents",
    "LoopSettings", "QueryError", "RunResult", "ScreenAssertionError", "StepFailed", "WaitTimeoutError",
    "local_model", "open_agent", "openai_model", "scripted_model",
)


def __getattr__(name: str) -> Any:
    if name in API_NAMES:
        return getattr(import_module(_API), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})


__all__ = ["__version__", *API_NAMES]
