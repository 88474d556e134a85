"""When two proposed steps are "the same" for the stuck check: same actions, points a few pixels apart.

A model that cannot hit a target often nudges it: (512,384), (513,384),
(513,385) ... Exact text comparison would call each a new action; these count
as one. Everything but the points (the kind, typed text, keys, direction) must
match exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...tools.actions import Action, Point
from ...tools.canonical import parse_action
from ...tools.errors import ActionParseError

# Points this close (model-frame pixels, each axis) are one target: a button is tens of pixels wide, and a
# nudge this small cannot move a click from one element to another on any real screen.
NEAR_PIXELS = 6


@dataclass(frozen=True)
class StepActions:
    """The actions of one step, as the stuck check compares them."""

    text: str  # the canonical text, "; "-joined
    shapes: tuple[str, ...]  # each action without its points
    points: tuple[tuple[Point, ...], ...]  # each action's points

    @classmethod
    def from_text(cls, text: str) -> StepActions:
        parts = [part for part in text.split("; ") if part]
        actions: list[Action] = []
        for part in parts:
            try:
                actions.append(parse_action(part))
            except ActionParseError:  # not canonical text (never from the loop): compared as text only
                return cls(text=text, shapes=(text,), points=((),))
        shapes = tuple(action.model_dump_json(exclude=_POINT_FIELDS) for action in actions)
        return cls(text=text, shapes=shapes, points=tuple(action.points() for action in actions))

    def near(self, other: StepActions) -> bool:
        if self.shapes != other.shapes:
            return False
        for mine, theirs in zip(self.points, other.points, strict=True):
            if len(mine) != len(theirs):
                return False
            if any(
                abs(a.x - b.x) > NEAR_PIXELS or abs(a.y - b.y) > NEAR_PIXELS for a, b in zip(mine, theirs, strict=False)
            ):
                return False
        return True


_POINT_FIELDS = {"point", "start", "end"}
