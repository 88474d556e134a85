"""What the model is shown of earlier steps, and the stuck check.

The prompt carries the last N screenshots as images (the current one
included, so N-1 earlier ones) and every earlier step as text; the dialect
decides how each is rendered. Images older than the window are dropped here
so a long run does not hold every screenshot in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from PIL import Image, ImageChops

from qwen_gui_agent.tools.dialects.base import HistoryStep

# Screens are compared as grey thumbnails this wide (a 1280x800 screen: 4x4 pixels a cell).
FINGERPRINT_WIDTH = 320
# A cell has changed when its grey level moved by more than this (0..255) ...
CELL_DELTA = 24
# ... and a screen has changed when more than this many cells did. A blinking
# caret or a clock's digit touches fewer; a scrolled list, typed word or
# opened menu touches many more (measured on the booking form's screenshots).
MIN_CHANGED_CELLS = 16


class History:
    """The earlier steps of one goal, oldest first."""

    def __init__(self, image_window: int) -> None:
        if image_window < 1:
            raise ValueError("the image window counts the current screenshot, so it is at least 1")
        self.image_window = image_window
        self._steps: list[HistoryStep] = []

    def add(self, answer: str, *, action_text: str = "", image: Image.Image | None = None, feedback: str = "") -> None:
        self._steps.append(HistoryStep(answer=answer, action_text=action_text, image=image, feedback=feedback))
        self._drop_old_images()

    def shrink_image_window(self, window: int) -> None:
        """Carry fewer screenshots from now on (the prompt outgrew the server's context)."""
        self.image_window = max(1, min(self.image_window, window))
        self._drop_old_images()

    def steps(self) -> tuple[HistoryStep, ...]:
        return tuple(self._steps)

    def _drop_old_images(self) -> None:
        keep = self.image_window - 1  # the current screenshot takes one place
        for position in range(max(0, len(self._steps) - keep)):
            if self._steps[position].image is not None:
                self._steps[position] = replace(self._steps[position], image=None)


def fingerprint(image: Image.Image) -> Image.Image:
    """A small grey copy of a screenshot: cheap to keep and compare."""
    height = max(1, round(image.height * FINGERPRINT_WIDTH / image.width))
    return image.convert("L").resize((FINGERPRINT_WIDTH, height), Image.Resampling.BOX)


def screens_differ(a: Image.Image, b: Image.Image) -> bool:
    """Whether two fingerprints show a visibly different screen (not byte equality: small flicker is ignored)."""
    if a.size != b.size:
        return True
    histogram = ImageChops.difference(a, b).histogram()
    return sum(histogram[CELL_DELTA + 1:]) > MIN_CHANGED_CELLS


@dataclass
class StuckDetector:
    """Counts the same action proposed on an unchanged screen, step after step.

    ``observe`` is called with each step's screen fingerprint and its action
    text before the action runs; it answers True when this is the ``limit``-th
    time in a row, so the run ends instead of repeating an action that had no
    visible effect ``limit - 1`` times already.
    """

    limit: int = 3
    _screen: Image.Image | None = None
    _action: str = ""
    _count: int = 0

    def observe(self, screen: Image.Image, action_text: str) -> bool:
        same_screen = self._screen is not None and not screens_differ(self._screen, screen)
        if same_screen and action_text == self._action:
            self._count += 1
        else:
            self._count = 1
        self._screen, self._action = screen, action_text
        return self.limit > 0 and self._count >= self.limit

    @property
    def repeats(self) -> int:
        return self._count
