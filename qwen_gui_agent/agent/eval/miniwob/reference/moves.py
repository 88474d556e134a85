"""What the reference policy decides: one move, its points in CSS px of the page's viewport.

A move is dialect- and screen-neutral: the agent path turns it into an answer in the frame of the
screenshot the model was sent (``answers``), the upper bound plays it through Selenium
(``selenium_actor``). Keys are the agent's normalized names (``ctrl``, ``a``, ``enter``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..view import CssRect

MoveKind = Literal["click", "double_click", "drag", "scroll", "type", "hotkey", "wait", "finished"]
Direction = Literal["up", "down", "left", "right"]
CssPoint = tuple[float, float]


class PolicyGaveUp(Exception):
    """The page is not as the solver expects (an element missing): the policy ends the episode as a failure."""


@dataclass(frozen=True)
class Move:
    kind: MoveKind
    thought: str
    point: CssPoint | None = None  # click, double_click, scroll (where), drag (from)
    end: CssPoint | None = None  # drag (to)
    text: str = ""  # type
    keys: tuple[str, ...] = ()  # hotkey
    direction: Direction = "down"  # scroll
    amount: int = 1  # scroll: wheel clicks
    seconds: float = 1.0  # wait
    success: bool = True  # finished

    def points(self) -> tuple[CssPoint, ...]:
        return tuple(point for point in (self.point, self.end) if point is not None)


def click(point: CssPoint | CssRect, thought: str) -> Move:
    return Move("click", thought, point=_point(point))


def double_click(point: CssPoint | CssRect, thought: str) -> Move:
    return Move("double_click", thought, point=_point(point))


def drag(start: CssPoint | CssRect, end: CssPoint | CssRect, thought: str) -> Move:
    return Move("drag", thought, point=_point(start), end=_point(end))


def scroll(point: CssPoint | CssRect, direction: Direction, amount: int, thought: str) -> Move:
    return Move("scroll", thought, point=_point(point), direction=direction, amount=amount)


def type_text(text: str, thought: str) -> Move:
    return Move("type", thought, text=text)


def hotkey(keys: str, thought: str) -> Move:
    return Move("hotkey", thought, keys=tuple(keys.split()))


def wait(thought: str, seconds: float = 1.0) -> Move:
    return Move("wait", thought, seconds=seconds)


def finished(thought: str, *, success: bool = True) -> Move:
    return Move("finished", thought, success=success)


def _point(where: CssPoint | CssRect) -> CssPoint:
    return where.centre if isinstance(where, CssRect) else where
