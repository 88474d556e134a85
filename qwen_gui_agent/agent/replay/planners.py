"""Today's pure driver planners, configured as the recorded run's device was.

CI replay recomputes each step's device commands with the same pure function
the live driver uses (``qwen_gui_agent.devices.desktop.plan.plan_desktop``,
``qwen_gui_agent.devices.android.device.plan_android``), with the driver settings that shape the
commands taken from what the run recorded about its device (``run.json``'s
``device``), so a run recorded on a Mac replays on a Linux CI runner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ...tools.actions import Action
from ...tools.frames import ScreenGeometry

log = logging.getLogger(__name__)


class ReplayError(RuntimeError):
    """The run cannot be replayed at all (unknown dialect or device kind): not a per-step difference."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.hint = hint
        super().__init__(f"{message}. {hint}" if hint else message)


@dataclass(frozen=True)
class DevicePlanner:
    """``plan(action, geometry)`` gives the commands; ``matches`` compares them with a recorded list."""

    kind: str
    plan_action: Callable[[Action, ScreenGeometry | None], tuple[str, ...]]
    # Commands a driver may add around the planned ones at execution time (state only known then).
    execution_wrappers: tuple[str, ...] = ()

    def __call__(self, action: Action, geometry: ScreenGeometry | None) -> tuple[str, ...]:
        return self.plan_action(action, geometry)

    def matches(self, recorded: Sequence[str], planned: Sequence[str]) -> bool:
        """Exactly the planned commands, or those wrapped only in the driver's declared wrappers."""
        recorded, planned = list(recorded), list(planned)
        if recorded == planned:
            return True
        if not self.execution_wrappers or not planned:
            return False
        width = len(planned)
        for start in range(len(recorded) - width + 1):
            if recorded[start : start + width] == planned:
                extras = recorded[:start] + recorded[start + width :]
                return all(command.startswith(self.execution_wrappers) for command in extras)
        return False


def planner_for_device(device: Mapping[str, Any]) -> DevicePlanner:
    kind = device.get("kind")
    if kind == "computer":
        return _desktop_planner(device)
    if kind == "mobile":
        return _android_planner(device)
    raise ReplayError(
        f"the run recorded no known device kind (got {kind!r})",
        hint="run.json's device.kind must be 'computer' or 'mobile'",
    )


def _desktop_planner(device: Mapping[str, Any]) -> DevicePlanner:
    from ...devices.desktop.plan import plan_desktop, resolve_action
    from ...devices.desktop.settings import DesktopSettings

    settings = recorded_settings(DesktopSettings, device)

    def plan(action: Action, geometry: ScreenGeometry | None) -> tuple[str, ...]:
        # The same filling-in the live driver does (a scroll without a point scrolls at the centre).
        return plan_desktop(resolve_action(action, geometry) if geometry else action, settings)

    return DevicePlanner(kind="computer", plan_action=plan)


def _android_planner(device: Mapping[str, Any]) -> DevicePlanner:
    from ...devices.android.device import plan_android
    from ...devices.android.settings import AndroidSettings

    settings = recorded_settings(AndroidSettings, device)

    def plan(action: Action, geometry: ScreenGeometry | None) -> tuple[str, ...]:
        screen = (geometry.width, geometry.height) if geometry is not None else _recorded_screen(device)
        return tuple(plan_android(action, settings, screen=screen))

    # Non-ASCII text: the driver switches to the ADBKeyboard IME and back around the planned broadcast.
    return DevicePlanner(
        kind="mobile", plan_action=plan, execution_wrappers=("ime enable ", "ime set ", "ime disable ")
    )


def recorded_settings(model: type[BaseModel], device: Mapping[str, Any]) -> Any:
    """The settings the run recorded for its driver: ``device["settings"]`` or matching top-level keys."""
    recorded = device.get("settings")
    source = recorded if isinstance(recorded, Mapping) else device
    known = {name: value for name, value in source.items() if name in model.model_fields}
    try:
        return model.model_validate(known)
    except ValidationError as error:
        log.warning("recorded %s do not validate today (%s); using the defaults", model.__name__, error)
        return model()


def _recorded_screen(device: Mapping[str, Any]) -> tuple[int, int]:
    """The phone's screen as the run recorded it when opened (for a step that kept no geometry)."""
    width, height = device.get("width"), device.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    raise ValueError("the step has no screen geometry and the run recorded no screen size")
