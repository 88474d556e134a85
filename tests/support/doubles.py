"""Test doubles for the loop's unit tests: an in-memory screen device and an event collector.

``MemoryDevice`` is NOT a driver: it holds a PIL image as its screen, answers
``plan``/``execute`` with the canonical text of the action, records what it was
told, and lets a test change the screen when an action arrives. The real
drivers are tested end to end on Xvfb (tests/agent/runtime/test_run_e2e.py).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from qwen_gui_agent.devices.base import Device, Execution, Screenshot
from qwen_gui_agent.devices.errors import UnsupportedAction
from qwen_gui_agent.tools.actions import Action, DeviceKind
from qwen_gui_agent.tools.canonical import format_action
from qwen_gui_agent.tools.frames import ScreenGeometry


class MemoryDevice(Device):
    """A test double: a screen in memory; by default each click draws a mark, so the screen changes."""

    def __init__(
        self,
        width: int = 800,
        height: int = 600,
        *,
        kind: DeviceKind = "computer",
        react: Callable[[MemoryDevice, Action], None] | None = None,
        unsupported: tuple[str, ...] = (),
        fail_on: Callable[[Action], BaseException | None] | None = None,
    ):
        self.kind = kind
        self.name = "memory"
        self.screen = Image.new("RGB", (width, height), "white")
        self.executed: list[Action] = []
        self.planned: list[Action] = []
        self.react = react if react is not None else MemoryDevice.draw_mark
        self.unsupported = unsupported
        self.fail_on = fail_on

    @staticmethod
    def draw_mark(device: MemoryDevice, action: Action) -> None:
        for point in action.points():
            ImageDraw.Draw(device.screen).rectangle(
                (point.x - 40, point.y - 40, point.x + 40, point.y + 40),
                fill=(30 * len(device.executed) % 255, 90, 160),
            )

    @staticmethod
    def no_change(device: MemoryDevice, action: Action) -> None:
        """For stuck tests: actions have no visible effect."""

    def screenshot(self) -> Screenshot:
        start = time.perf_counter()
        image = self.screen.copy()
        return Screenshot(
            image=image,
            geometry=ScreenGeometry(width=image.width, height=image.height),
            captured_at=time.time(),
            capture_ms=(time.perf_counter() - start) * 1000,
        )

    def plan(self, action: Action) -> tuple[str, ...]:
        if action.action in self.unsupported:
            raise UnsupportedAction(
                f"{action.action} does not exist on this test device", expected="an action this device supports"
            )
        self.planned.append(action)
        return (f"memory {format_action(action)}",)

    def execute(self, action: Action) -> Execution:
        commands = self.plan(action)
        if self.fail_on is not None and (error := self.fail_on(action)) is not None:
            raise error
        self.executed.append(action)
        self.react(self, action)
        return Execution(action=action, commands=commands)


@dataclass
class CollectedEvents:
    """An event sink that keeps every event (a test double for the console)."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, event: str, data: dict[str, Any]) -> None:
        self.events.append((event, data))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]


class TerminalInput(io.StringIO):
    """Scripted keyboard input that says it is a terminal (for call_user and --confirm)."""

    def isatty(self) -> bool:
        return True
