"""A TEST DOUBLE device and a helper that records real runs through the agent's own loop.

``StillScreen`` shows a fixed picture and sends nothing anywhere: its ``plan``
and ``execute`` return the commands of the REAL pure desktop planner
(``plan_desktop``) or Android planner (``plan_android``), as the live drivers
do, so the recorded commands are exactly what a live run records. Runs are
written by ``qwen_gui_agent.agent.runtime.runner.execute_run`` with the scripted backend: the same
code path as ``agent run``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.runtime.console import JsonEvents
from qwen_gui_agent.agent.runtime.runner import RunParts, RunResult, execute_run
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.devices.android.plan import plan_android
from qwen_gui_agent.devices.android.settings import AndroidSettings
from qwen_gui_agent.devices.base import Device, Execution, Screenshot
from qwen_gui_agent.devices.desktop.plan import plan_desktop
from qwen_gui_agent.devices.desktop.settings import DesktopSettings
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.actions import Action, Point, Scroll
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import FrameBounds, ScreenGeometry


def picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 10, height // 10, width // 3, height // 5), fill=(30, 110, 220))
    draw.rectangle((width // 2, height // 2, width * 3 // 4, height * 3 // 5), fill=(220, 60, 40))
    return image


class StillScreen(Device):
    """A screen that never changes; records the commands it was asked to send (test double)."""

    def __init__(self, kind: str, geometry: ScreenGeometry) -> None:
        self.kind = kind  # type: ignore[assignment]
        self.name = f"still-{kind}"
        self.geometry = geometry
        self.image = picture(geometry.width, geometry.height)
        self.desktop = DesktopSettings(platform="x11")
        self.android = AndroidSettings()
        self.sent: list[str] = []

    def screenshot(self) -> Screenshot:
        return Screenshot(image=self.image.copy(), geometry=self.geometry, captured_at=time.time(), capture_ms=0.1)

    def plan(self, action: Action) -> tuple[str, ...]:
        if self.kind == "mobile":
            return plan_android(action, self.android, (self.geometry.width, self.geometry.height))
        if isinstance(action, Scroll) and action.point is None:  # as DesktopDevice does
            g = self.geometry
            centre = Point(x=round(g.origin_x + g.width / g.scale / 2), y=round(g.origin_y + g.height / g.scale / 2))
            action = action.model_copy(update={"point": centre})
        return plan_desktop(action, self.desktop)

    def execute(self, action: Action) -> Execution:
        commands = self.plan(action)
        self.sent.extend(commands)
        return Execution(action=action, commands=commands)

    def describe(self) -> dict[str, object]:
        # As the live desktop driver does: the settings that shape its commands, for replay.
        settings = self.android if self.kind == "mobile" else self.desktop
        return {"kind": self.kind, "name": self.name, "settings": settings.model_dump(mode="json")}


def record_run(
    out_dir: Path,
    answers: Sequence[str],
    *,
    dialect: str = "uitars",
    kind: str = "computer",
    geometry: ScreenGeometry | None = None,
    task: Task | str = "do the thing",
    max_pixels: int = 1280 * 28 * 28,
) -> RunResult:
    """Run ``task`` through the real loop against a still screen with a scripted model."""
    geometry = geometry or ScreenGeometry(width=1920, height=1080)
    device = StillScreen(kind, geometry)
    parts = RunParts(
        task=task if isinstance(task, Task) else Task.from_goal(task),
        device=device,
        backend=ScriptedBackend(list(answers)),
        dialect=get_dialect(dialect),
        settings=LoopSettings(frame=FrameBounds(max_pixels=max_pixels), settle_s=0, max_steps=20),
        events=JsonEvents(io.StringIO()),
        out_dir=out_dir,
        write_report=False,
    )
    return execute_run(parts)
