"""The Python API for embedding the agent in a script or a pytest test (docs/python.md).

    from qwen_gui_agent import open_agent, scripted_model

Every name here is also importable from ``qwen_gui_agent`` itself, which loads
this package only when one of them is first used.
"""

from __future__ import annotations

from ...devices.android.settings import AndroidSettings
from ...devices.desktop.settings import DesktopSettings
from ...devices.errors import DeviceError
from ..backends.base import BackendError
from ..backends.settings import BackendSettings
from ..runtime.runner import RunResult
from ..runtime.session import LoopSettings
from .agent import Agent, LogEvents, open_agent
from .errors import (
    AgentClosed,
    AgentError,
    QueryError,
    ScreenAssertionError,
    StepFailed,
    WaitTimeoutError,
)
from .models import local_model, openai_model, scripted_model

__all__ = [
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
]
