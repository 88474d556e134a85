"""What grounding and step evals share with the agent: the frame a screenshot is shown in, and reading it back.

The screenshot is sized with the agent's own ``ModelFrame.for_screen`` + ``resize_to_frame`` and the
answer's point goes back through ``map_action``, so an eval measures exactly the clicks a run would make.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ...tools.actions import Click, Point
from ...tools.dialects.base import Dialect
from ...tools.frames import FrameBounds, ModelFrame, ScreenGeometry, map_action, resize_to_frame
from ...tools.messages import Message
from ..backends.base import Completion, ModelBackend
from ..files.images import open_rgb


@dataclass(frozen=True)
class FrameSettings:
    frame: FrameBounds  # the model's, from the registry (factor 28 for Qwen2.5-VL, 32 for Qwen3-VL)
    max_new_tokens: int


@dataclass(frozen=True)
class Shown:
    """A screenshot as the model sees it, and the geometry its points map back to."""

    image: Image.Image  # frame-sized
    frame: ModelFrame
    geometry: ScreenGeometry


def show(screenshot: Image.Image, dialect: Dialect, settings: FrameSettings) -> Shown:
    width, height = screenshot.size
    frame = ModelFrame.for_screen(
        width, height, settings.frame, relative=dialect.relative, relative_scale=dialect.relative_scale
    )
    return Shown(image=resize_to_frame(screenshot, frame), frame=frame, geometry=ScreenGeometry(width, height))


def ask(
    backend: ModelBackend, messages: Sequence[Message], settings: FrameSettings, *, wants_action: bool
) -> Completion:
    return backend.complete(messages, max_new_tokens=settings.max_new_tokens, wants_action=wants_action)


def answer_frame(shown: Shown, completion: Completion) -> ModelFrame:
    """The frame the answer's points are in: ours, unless the backend says the model saw another size
    (the rule the agent's session follows)."""
    seen = completion.seen_frame
    frame = shown.frame
    if seen is None or frame.relative or seen == (frame.width, frame.height):
        return frame
    return ModelFrame(width=seen[0], height=seen[1])


def to_screenshot(point: Point, frame: ModelFrame, geometry: ScreenGeometry) -> Point:
    """A model-frame point in screenshot pixels, as the agent would click it (raises if off the frame)."""
    mapped = map_action(Click(point=point), frame, geometry)
    return mapped.points()[0]


def load_rgb(path: Path | str) -> Image.Image:
    """The image as RGB; an OSError for one that is missing, not a regular file, not an image or a decompression
    bomb (``agent.files.images``)."""
    return open_rgb(path)
