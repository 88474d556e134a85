"""One recorded step: ask the model for the next action with the same history, and score it.

The prompt is the agent's: a run's step is asked with the history ``PromptRebuilder`` rebuilds (the
one the CI replay re-renders); an episode's with its earlier actions as the history and the
dialect's window of earlier screenshots. The answer's first action is mapped to screenshot pixels
by the agent's frame code and compared with the recorded one:

- the action type must match;
- a pointing action (click, double/right/middle click, long press, move) must land inside the
  target box, or within ``tolerance`` x the screen's diagonal of the recorded point when no box is
  known; a drag or swipe must start (where it names a start) and end so;
- a scroll must go the same way, ``type`` must type the same text (case and outer spaces aside),
  ``open_app`` must name the same app (case aside).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ....tools.actions import Action, Drag, OpenApp, Point, Scroll, Swipe, Type, with_points
from ....tools.canonical import format_action
from ....tools.dialects.base import Dialect, PromptContext
from ....tools.errors import ActionParseError
from ....tools.frames import ModelFrame, ScreenGeometry, map_action
from ....tools.messages import Message
from ...backends.base import ModelBackend
from ...runtime.history import History
from ...runtime.recorded_prompts import PARSED_KINDS, PromptRebuilder
from ...runtime.secrets import Secrets
from ..asking import FrameSettings, answer_frame, ask, load_rgb, show
from ..items import Box
from ..runner import ERROR
from .data import Episode, StepItem

POINTING = frozenset({"click", "double_click", "right_click", "middle_click", "long_press", "move"})


@dataclass(frozen=True)
class StepAsker:
    backend: ModelBackend
    dialect: Dialect
    settings: FrameSettings
    tolerance: float = 0.04
    secrets: Secrets = field(default_factory=Secrets)  # a value the model repeats is kept as its placeholder

    def __call__(self, item: StepItem) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": item.id,
            "where": item.where,
            "goal": item.goal,
            "image": str(item.image),
            "groups": dict(item.groups),
            "expected": format_action(item.expected),
        }
        if item.box is not None:
            record["box"] = item.box.as_list()
        if item.expected.points():
            record["expected_point"] = [item.expected.points()[0].x, item.expected.points()[0].y]
        try:
            screenshot = load_rgb(item.image)
            messages, shown = self._prompt(item, screenshot)
        except (OSError, ValueError) as error:  # unreadable, a bomb, or a shape no frame can hold (1x5000)
            return {**record, "outcome": ERROR, "correct": False, "error": f"{item.where}: {error}"}
        started = time.perf_counter()
        completion = ask(self.backend, messages, self.settings, wants_action=True)
        frame = answer_frame(shown, completion)
        answer = self.secrets.redact_answer(completion.text)  # before anything reads it, as in a run
        record.update(frame=str(frame), answer=answer, seconds=round(time.perf_counter() - started, 3))
        try:
            predicted = map_action(self.dialect.parse(answer, frame).actions[0], frame, shown.geometry)
        except (ActionParseError, IndexError) as error:
            why = error.describe() if isinstance(error, ActionParseError) else "no action in the answer"
            return {**record, "outcome": "unparsed", "correct": False, "error": why}
        scored = score(item.expected, predicted, item.box, shown.geometry, self.tolerance)
        if predicted.points():
            record["point"] = [predicted.points()[0].x, predicted.points()[0].y]
        return {**record, **scored, "predicted": format_action(predicted)}

    def _prompt(self, item: StepItem, screenshot: Image.Image) -> tuple[list[Message], Any]:
        shown = show(screenshot, self.dialect, self.settings)
        if item.run is not None:
            history = self._run_history(item)
            return history.messages(shown.frame, shown.image), shown
        assert item.episode is not None
        context = PromptContext(
            task=item.goal, frame=shown.frame, device="mobile" if item.episode.device == "mobile" else "computer"
        )
        steps = self._episode_history(item.episode, item.position).steps()
        return self.dialect.build_messages(context, steps, shown.image), shown

    def _run_history(self, item: StepItem) -> PromptRebuilder:
        """The run's history just before ``item``'s step, its screenshots sized at this eval's pixel cap."""
        assert item.run is not None
        history = PromptRebuilder(item.run, self.dialect)
        for step in item.run.steps[: item.position + 1]:
            history.begin(step)
            if step is item.run.steps[item.position] or step.kind not in PARSED_KINDS:
                continue
            frame = None
            if step.geometry is not None:
                frame = show_frame(step.geometry.width, step.geometry.height, self.dialect, self.settings)
            history.remember(step, history.prompt_image(step, frame))
        return history

    def _episode_history(self, episode: Episode, position: int) -> History:
        history = History(self.dialect.info.default_image_history)
        first_image = position - (history.image_window - 1)  # older screenshots would be dropped anyway
        for number in range(position):
            image = load_rgb(episode.screenshots[number])
            shown = show(image, self.dialect, self.settings)
            text = format_action(to_model_frame(episode.actions[number], shown.frame, shown.geometry))
            history.add("", action_text=text, image=shown.image if number >= first_image else None)
        return history


def show_frame(width: int, height: int, dialect: Dialect, settings: FrameSettings) -> ModelFrame:
    return ModelFrame.for_screen(
        width, height, settings.frame, relative=dialect.relative, relative_scale=dialect.relative_scale
    )


def to_model_frame(action: Action, frame: ModelFrame, geometry: ScreenGeometry) -> Action:
    """Screenshot pixels -> the model frame (for showing a recorded action as history): map_action's inverse."""
    max_x, max_y = frame.extent
    return with_points(
        action,
        lambda p: Point(
            x=min(max_x, round(p.x * max_x / geometry.width)), y=min(max_y, round(p.y * max_y / geometry.height))
        ),
    )


def score(
    expected: Action, predicted: Action, box: Box | None, geometry: ScreenGeometry, tolerance: float
) -> dict[str, Any]:
    """type_match, detail_match (None where the type has nothing more to compare), correct and the outcome."""
    type_match = expected.action == predicted.action
    detail = _detail_match(expected, predicted, box, geometry, tolerance) if type_match else None
    correct = type_match and detail is not False
    return {
        "type_match": type_match,
        "detail_match": detail,
        "correct": correct,
        "outcome": "hit" if correct else ("wrong_detail" if type_match else "wrong_type"),
    }


def _detail_match(
    expected: Action, predicted: Action, box: Box | None, geometry: ScreenGeometry, tolerance: float
) -> bool | None:
    limit = tolerance * math.hypot(geometry.width, geometry.height)

    def near(a: Point | None, b: Point | None, target: Box | None = None) -> bool:
        if a is None or b is None:
            return a is None and b is None
        return target.contains(b.x, b.y) if target is not None else math.dist((a.x, a.y), (b.x, b.y)) <= limit

    match expected:
        case Drag() | Swipe():
            assert isinstance(predicted, (Drag, Swipe))
            starts = expected.start is None or near(expected.start, predicted.start)
            return starts and near(expected.end, predicted.end)
        case Scroll():
            assert isinstance(predicted, Scroll)
            return expected.direction == predicted.direction
        case Type():
            assert isinstance(predicted, Type)
            return expected.text.strip().casefold() == predicted.text.strip().casefold()
        case OpenApp():
            assert isinstance(predicted, OpenApp)
            return expected.name.strip().casefold() == predicted.name.strip().casefold()
    if expected.action in POINTING:
        return near(expected.points()[0], predicted.points()[0], box)
    return None
