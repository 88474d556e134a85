"""One grounding question: show the screenshot, ask where the element is, score the click against its box.

Two ways to ask. ``grounding``: the dialect's plain "find X" prompt and its grounding reader, the
question a ``tap:`` step asks. ``action``: the dialect's full agent prompt with "click on X" as the
task, read by its action parser (the first action with a point counts), the question an ``ai:`` step
asks. Either way the point is mapped to screenshot pixels by the agent's own frame code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from ....tools.actions import Point
from ....tools.dialects.base import Dialect, PromptContext
from ....tools.errors import ActionParseError
from ....tools.frames import ModelFrame
from ....tools.messages import Message
from ...backends.base import ModelBackend
from ..asking import FrameSettings, Shown, answer_frame, ask, load_rgb, show, to_screenshot
from ..runner import ERROR
from .data import GroundingItem

PromptKind = Literal["grounding", "action"]
HIT, MISS, UNPARSED = "hit", "miss", "unparsed"


@dataclass(frozen=True)
class GroundingAsker:
    backend: ModelBackend
    dialect: Dialect
    settings: FrameSettings
    prompt: PromptKind = "grounding"

    def __call__(self, item: GroundingItem) -> dict[str, Any]:
        record = _base_record(item)
        try:
            shown = show(load_rgb(item.image), self.dialect, self.settings)
        except (OSError, ValueError) as error:  # unreadable, a bomb, or a shape no frame can hold (1x5000)
            return {
                **record,
                "outcome": ERROR,
                "correct": False,
                "error": f"{item.where}: cannot read image {item.image}: {error}",
            }
        started = time.perf_counter()
        completion = ask(self.backend, self._messages(item, shown), self.settings, wants_action=self.prompt == "action")
        frame = answer_frame(shown, completion)
        if self.prompt == "grounding":
            frame = self.dialect.grounding_frame(frame)  # a box may use another scale than action calls (qwen3)
        record.update(frame=str(frame), answer=completion.text, seconds=round(time.perf_counter() - started, 3))
        try:
            model_point = self._point(completion.text, frame)
            point = to_screenshot(model_point, frame, shown.geometry)
        except ActionParseError as error:
            return {**record, "outcome": UNPARSED, "correct": False, "error": error.describe()}
        hit = item.box.contains(point.x, point.y)
        return {
            **record,
            "outcome": HIT if hit else MISS,
            "correct": hit,
            "model_point": [model_point.x, model_point.y],
            "point": [point.x, point.y],
        }

    def _messages(self, item: GroundingItem, shown: Shown) -> list[Message]:
        if self.prompt == "grounding":
            return self.dialect.grounding_messages(item.instruction, shown.image, shown.frame)
        context = PromptContext(
            task=f"Click on this element: {item.instruction}",
            frame=shown.frame,
            device="mobile" if item.device == "mobile" else "computer",
        )
        return self.dialect.build_messages(context, (), shown.image)

    def _point(self, answer: str, frame: ModelFrame) -> Point:
        if self.prompt == "grounding":
            return self.dialect.parse_grounding(answer, frame)[0].point
        for action in self.dialect.parse(answer, frame).actions:
            if action.points():
                return action.points()[0]
        raise ActionParseError(
            "the answer holds no action with a point", excerpt=answer, expected="a click on the element"
        )


def _base_record(item: GroundingItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "instruction": item.instruction,
        "image": str(item.image),
        "box": item.box.as_list(),
        "groups": dict(item.groups),
        "where": item.where,
    }
