"""What the reference would do on the model's own page: a label for each model step, as DAgger's expert gives.

A model that leaves the reference's trajectory (its drag missed, so it drags again where the reference
had already clicked Submit) is judged wrongly when its step N is set beside the reference's step N.
While a model plays, ``LabellingBackend`` asks the task's solver, before each answer, what it would do
on the page as it is now: the move's kind and the rectangle of the element under each of its points,
as shares of the task area. It only reads the page. A solver that keeps notes of its own earlier
moves (choose-list's list opened, then typed) cannot label pages it did not make: such labels are
marked ``stateful`` and the figures fall back to the reference's own trajectory for that episode.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .....tools.messages import Message
from ....backends.base import Completion, ModelBackend
from ..browser import BrowserError
from .backend import next_move
from .moves import Move
from .page import Page

log = logging.getLogger(__name__)

LABELS_FILE = "reference_labels.json"  # in the run directory of each model episode

# The element under a CSS point of the viewport: [left, top, width, height] relative to the task area (#wrap), and
# the area's size.
_ELEMENT_AT = """
var wrap = document.getElementById('wrap').getBoundingClientRect();
var element = document.elementFromPoint(arguments[0], arguments[1]);
if (!element) { return null; }
// A click anywhere on a control works, not only on the label or icon inside it.
element = element.closest('button, a, input, select, textarea, label') || element;
var r = element.getBoundingClientRect();
return [r.left - wrap.left, r.top - wrap.top, r.width, r.height, wrap.width, wrap.height];
"""


@dataclass(frozen=True)
class Box:
    """A rectangle as shares (0..1) of the task area's width and height."""

    left: float
    top: float
    width: float
    height: float

    def contains(self, x: float, y: float) -> bool:
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height

    @property
    def area(self) -> float:
        """The share of the task area it covers (clipped to the area): what a random point hits."""
        width = max(0.0, min(1.0, self.left + self.width) - max(0.0, self.left))
        height = max(0.0, min(1.0, self.top + self.height) - max(0.0, self.top))
        return width * height


def box_at(page: Page, point: tuple[float, float]) -> Box:
    """The element under a CSS point of the viewport, widened to its control, as shares of the task area."""
    found = page.js(_ELEMENT_AT, *point)
    if not found:  # nothing there (outside the page): a target nothing can hit
        return Box(0.0, 0.0, 0.0, 0.0)
    left, top, width, height, area_width, area_height = (float(value) for value in found)
    return Box(left=left / area_width, top=top / area_height, width=width / area_width, height=height / area_height)


@dataclass(frozen=True)
class StepLabel:
    kind: str  # the reference's move on this page: click, double_click, drag, scroll, type, hotkey, wait, finished
    targets: tuple[Box, ...] = ()  # one per point of the move
    stateful: bool = False  # the solver consulted notes of its own moves: not a label of this page alone

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepLabel:
        return cls(
            kind=str(data["kind"]),
            targets=tuple(Box(**box) for box in data.get("targets", ())),
            stateful=bool(data.get("stateful", False)),
        )


class LabellingBackend(ModelBackend):
    """The model's backend, with the reference's label of the page taken before each of its answers."""

    def __init__(self, model: ModelBackend, solve: Callable[[Page], Move], page: Page) -> None:
        self._model = model
        self._solve = solve
        self._page = page
        self.name = model.name
        self.labels: list[StepLabel | None] = []  # one per request, in order (None: the page could not be read)

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        self.labels.append(self._label())
        return self._model.complete(messages, max_new_tokens=max_new_tokens, wants_action=wants_action)

    def close(self) -> None:  # the shared model outlives the episode: its owner closes it
        return None

    def _label(self) -> StepLabel | None:
        noted = dict(self._page.memory)
        try:
            move = next_move(self._solve, self._page)
            targets = tuple(box_at(self._page, point) for point in move.points())
        except BrowserError:  # the page is gone: the model's own step says so
            return None
        except Exception:  # a solver's defect must not cost the model its step: no label, logged
            log.warning("the reference could not label this page", exc_info=True)
            return None
        finally:
            stateful = self._page.forget_notes_since(noted)
        return StepLabel(kind=move.kind, targets=targets, stateful=stateful)


def write_labels(run_dir: Path, labels: Sequence[StepLabel | None]) -> None:
    document = {"labels": [asdict(label) if label is not None else None for label in labels]}
    (run_dir / LABELS_FILE).write_text(json.dumps(document, indent=1), encoding="utf-8")


def read_labels(run_dir: Path) -> list[StepLabel | None] | None:
    """The labels of a model episode's run directory; None when it has none (or they cannot be used)."""
    path = run_dir / LABELS_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["labels"]
        labels = [StepLabel.from_json(item) if item is not None else None for item in raw]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return labels
