"""What the model is shown of earlier steps, and the stuck check (a repeated action or a loop of them).

The prompt carries the last N screenshots as images (the current one
included, so N-1 earlier ones) and every earlier step as text; the dialect
decides how each is rendered. Images older than the window are dropped here
so a long run does not hold every screenshot in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PIL import Image, ImageChops

from ...tools.dialects.base import HistoryStep
from .repetition import StepActions

# Screens are compared as grey thumbnails this wide (a 1280x800 screen: 4x4 pixels a cell).
FINGERPRINT_WIDTH = 320
# A cell has changed when its grey level moved by more than this (0..255) ...
CELL_DELTA = 24
# ... and a screen has changed when more than this many cells did. A blinking
# caret or a clock's digit touches fewer; a scrolled list, typed word or
# opened menu touches many more (measured on the booking form's screenshots).
MIN_CHANGED_CELLS = 16
# The longest loop of steps the stuck check recognizes (A B A B ... up to A B C D A B C D ...).
MAX_CYCLE = 4


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
    return sum(histogram[CELL_DELTA + 1 :]) > MIN_CHANGED_CELLS


@dataclass
class StuckDetector:
    """Notices an agent going round in circles on a screen its actions do not change.

    ``observe`` is called with each step's screen fingerprint and its action
    text before the action runs. The run is stuck when, for some period p from
    1 to ``MAX_CYCLE``, the last ``limit`` rounds of p steps repeat: each step
    proposes the same actions (points a few pixels apart count as the same, see
    ``repetition``) on the same screen as the step p before it. p = 1 is one
    action on an unchanged screen ``limit`` times in a row; p = 2 is two actions
    taking turns (click A, click B, click A ... or open and close a menu)
    ``limit`` times each. It answers True on the step that completes the loop,
    so that step's action is not run.
    """

    limit: int = 3
    _steps: list[tuple[Image.Image, StepActions]] = field(default_factory=list)
    _period: int = 0

    def observe(self, screen: Image.Image, action_text: str) -> bool:
        self._steps.append((screen, StepActions.from_text(action_text)))
        del self._steps[: -max(1, self.limit) * MAX_CYCLE]  # older steps can complete no loop
        self._period = next((period for period in range(1, MAX_CYCLE + 1) if self._loops(period)), 0)
        return self.limit > 0 and self._period > 0

    def _loops(self, period: int) -> bool:
        needed = self.limit * period
        if needed == 0 or needed > len(self._steps):
            return False
        recent = self._steps[-needed:]
        return all(
            recent[i][1].near(recent[i - period][1]) and not screens_differ(recent[i][0], recent[i - period][0])
            for i in range(period, needed)
        )

    @property
    def repeats(self) -> int:
        """How many steps the loop took (``limit`` rounds of its period); 0 when there is none."""
        return self.limit * self._period

    def explain(self) -> str:
        """Why the run is stuck, for the run record."""
        if self._period <= 1:
            return f"{self._steps[-1][1].text} was chosen {self.limit} times in a row on an unchanged screen"
        cycle = " then ".join(step.text for _, step in self._steps[-self._period :])
        return f"{cycle} came round {self.limit} times, each step on the same screen as the round before"
