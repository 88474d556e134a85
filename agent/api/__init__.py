"""The Python API for embedding the agent in a script or a pytest test (docs/python.md).

    from qwen_gui_agent import open_agent, scripted_model

Every name here is also importable from ``qwen_gui_agent`` itself, which loads
this package only when one of them is first used.
"""

from __future__ import annotations

from qwen_gui_agent.agent.api.agent import Agent, LogEvents, open_agent
from qwen_gui_agent.agent.api.errors import (
    AgentClosed,
    AgentError,
    QueryError,
    ScreenAssertionError,
    StepFailed,
    WaitTimeoutError,
)
from qwen_gui_agent.agent.api.models import local_model, openai_model, scripted_model
from qwen_gui_agent.agent.backends.base import BackendError
from qwen_gui_agent.agent.backends.settings import BackendSettings
from qwen_gui_agent.agent.runtime.runner import RunResult
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.devices.android_settings import AndroidSettings
from qwen_gui_agent.devices.desktop_settings import DesktopSettings
from qwen_gui_agent.devices.errors import DeviceError

__all__ = [
    "Agent", "AgentClosed", "AgentError", "AndroidSettings", "BackendError", "BackendSettings", "DesktopSettings",
    "DeviceError", "LogEvents",
    "LoopSettings", "QueryError", "RunResult", "ScreenAssertionError", "StepFailed", "WaitTimeoutError",
    "local_model", "open_agent", "openai_model", "scripted_model",
]
