"""Replay a recorded run's actions on a live device, as a macro (``agent replay RUN --device ...``).

No model is asked: each step's recorded actions run again in order. Points are
rescaled to the live screen: a model-frame action keeps its place *relative* to
the frame (``qwen_gui_agent.tools.frames.map_action`` with the recorded frame and today's
geometry); a literal action in screenshot pixels keeps its place relative to
the recorded screenshot; a step that recorded only what the device got is
first taken back to recorded screenshot pixels through the recorded geometry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ...devices.base import Device
from ...tools.actions import TERMINAL_ACTIONS, Action, Point, Wait, with_points
from ...tools.canonical import format_action, parse_action
from ...tools.frames import ModelFrame, ScreenGeometry, input_to_screenshot, map_action
from ..records.run_files import MODEL_KINDS, RecordedRun, StepRecord, is_launch_record

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MacroSettings:
    delay_s: float = 0.5  # pause after each step so the app can redraw, as the live run did
    dry_run: bool = False  # plan and print, send nothing
    skip_waits: bool = False  # drop recorded wait() actions (their time is already in delay_s)


@dataclass(frozen=True)
class MacroAction:
    """One recorded action, ready for the live screen."""

    step: int
    recorded: str  # what the device got in the recorded run
    action: Action  # input frame of the live device


@dataclass(frozen=True)
class MacroResult:
    action: MacroAction
    commands: tuple[str, ...]
    dry_run: bool


def macro_actions(run: RecordedRun, live: ScreenGeometry, settings: MacroSettings | None = None) -> list[MacroAction]:
    """Every action the recorded run executed, rescaled to a screen of geometry ``live``."""
    settings = settings or MacroSettings()
    planned: list[MacroAction] = []
    for step in run.steps:
        for recorded, action, proposed in _recorded_actions(step):
            if settings.skip_waits and isinstance(action, Wait):
                continue
            rescaled = _rescale(step, action, proposed, live)
            planned.append(MacroAction(step=step.index, recorded=recorded, action=rescaled))
    return planned


def play_macro(
    run: RecordedRun,
    device: Device,
    settings: MacroSettings | None = None,
    on_action: Callable[[MacroResult], None] | None = None,
) -> list[MacroResult]:
    """Send the run's actions to ``device`` (or only plan them on a dry run); return what was sent."""
    settings = settings or MacroSettings()
    live = device.screenshot().geometry
    results: list[MacroResult] = []
    previous_step: int | None = None
    for item in macro_actions(run, live, settings):
        if previous_step is not None and item.step != previous_step and not settings.dry_run:
            time.sleep(settings.delay_s)
        previous_step = item.step
        if settings.dry_run:
            commands = tuple(device.plan(item.action))
        else:
            commands = tuple(device.execute(item.action).commands)
        result = MacroResult(action=item, commands=commands, dry_run=settings.dry_run)
        log.info("step %d: %s -> %s", item.step, format_action(item.action), commands)
        results.append(result)
        if on_action is not None:
            on_action(result)
    return results


def _recorded_actions(step: StepRecord) -> list[tuple[str, Action, bool]]:
    """(what the device got, the action to rescale, whether it is a proposed action) per executed action.

    Proposed actions (model frame, or screenshot pixels for literal steps) are
    preferred: they carry the intent exactly; the executed list says how many
    of them really ran.
    """
    executed = [record.action for record in step.executed if not record.dry_run] or [
        record.action for record in step.executed
    ]
    executed = [text for text in executed if not is_launch_record(text)]  # desktop command lines: not replayed
    if step.kind not in MODEL_KINDS:  # literal steps: their own frame is not recorded, the device's side is exact
        return [(text, parse_action(text), False) for text in executed]
    proposed = [action for action in map(parse_action, step.actions) if not isinstance(action, TERMINAL_ACTIONS)]
    if proposed and len(proposed) >= len(executed):
        return [(text, action, True) for text, action in zip(executed, proposed[: len(executed)], strict=True)]
    return [(text, parse_action(text), False) for text in executed]  # only the device's side was recorded


def _rescale(step: StepRecord, action: Action, proposed: bool, live: ScreenGeometry) -> Action:
    if not action.points():
        return action
    if step.geometry is None:
        raise ValueError(f"step {step.index} has points but no recorded screen geometry to rescale them from")
    recorded = ScreenGeometry(**step.geometry.model_dump())
    if proposed and step.frame is not None:
        return map_action(action, ModelFrame(**step.frame.model_dump()), live)
    pixels = ModelFrame(width=recorded.width, height=recorded.height)
    if proposed:  # a literal action given in recorded screenshot pixels
        return map_action(action, pixels, live)
    return map_action(_input_to_screenshot(action, recorded), pixels, live)


def _input_to_screenshot(action: Action, geometry: ScreenGeometry) -> Action:
    # Undo the recorded input frame (scale and origin) to get recorded screenshot pixels.
    def back(point: Point) -> Point:
        x, y = input_to_screenshot(point, geometry)
        return Point(x=min(max(round(x), 0), geometry.width), y=min(max(round(y), 0), geometry.height))

    return with_points(action, back)
