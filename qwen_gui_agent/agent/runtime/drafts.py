"""A step as it is being built: the screenshot it observed, its record in progress, what its actions became.

``Session`` (``agent.runtime.session``) fills a ``StepDraft`` while a step runs and turns it into
the step's ``StepRecord`` however the step ends; an ``Observation`` is one screenshot and the
model's view of it; a ``Performed`` says what one action sent to the device, or why nothing was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from ...devices.base import Screenshot
from ...tools.frames import ModelFrame
from ..backends.base import Completion
from ..records.run_files import ErrorRecord, ExecutedRecord, FrameRecord, GeometryRecord, StepRecord


@dataclass(frozen=True)
class Observation:
    """One screenshot and what the model sees of it."""

    shot: Screenshot
    frame: ModelFrame
    image: Image.Image  # resized to the frame


@dataclass
class StepDraft:
    """A step being built; always recorded, however the step ends."""

    index: int
    kind: str
    limit: int | None = None  # the goal's step budget, for the console
    goal_step: int | None = None  # this step's number within its goal (counted against ``limit``)
    goal: str = ""  # the ai goal being worked on, recorded so replay prompts with it
    query: str = ""  # a tap step's grounding question, recorded so its prompt can be rebuilt
    started_at: float = field(default_factory=time.time)
    screenshot: str | None = None
    observation: Observation | None = None
    # The frame the step's actions are written in, when it is not the screen's model frame
    # (a literal `do` step's own frame, or screenshot pixels).
    action_frame: ModelFrame | None = None
    completion: Completion | None = None
    thought: str = ""
    actions: list[str] = field(default_factory=list)
    executed: list[ExecutedRecord] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    error: ErrorRecord | None = None
    feedback: str = ""
    note: str = ""
    value: Any = None  # a query step's answer, as JSON data
    serving: dict[str, Any] = field(default_factory=dict)  # what the serving side reported or did

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_ms[phase] = round(self.timings_ms.get(phase, 0.0) + (time.perf_counter() - start) * 1000, 2)

    def to_record(self) -> StepRecord:
        shot = self.observation.shot if self.observation else None
        frame = self.action_frame or (self.observation.frame if self.observation else None)
        usage = self.completion.usage if self.completion else None
        return StepRecord(
            index=self.index,
            started_at=self.started_at,
            kind=self.kind,
            goal=self.goal,
            query=self.query,
            screenshot=self.screenshot,
            geometry=GeometryRecord(**vars(shot.geometry)) if shot else None,
            frame=FrameRecord(
                width=frame.width, height=frame.height, relative=frame.relative, relative_scale=frame.relative_scale
            )
            if frame
            else None,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            answer=self.completion.text if self.completion else "",
            thought=self.thought,
            actions=self.actions,
            executed=self.executed,
            timings_ms=self.timings_ms,
            error=self.error,
            feedback=self.feedback,
            note=self.note,
            value=self.value,
            serving=self.serving,
        )


@dataclass(frozen=True)
class Performed:
    """What became of one action: what the device got, or why nothing was sent."""

    executed: ExecutedRecord | None
    feedback: str = ""  # for the model, when the person declined or changed the action
