"""Deliberate misses: the reference policy's first pointing moves land on blank page, then it plays on.

A model trained only on clean demonstrations never sees the screen after one of its own clicks went
wrong, and answers there are its worst (issue 27: every answer parsed at step 1, the misses came
after a missed click). A missed move keeps the solver's thought and kind; only its point moves to a
spot of the task area where the page shows nothing to click (``document.elementFromPoint`` is the
area's background or an empty plain element, no control), chosen by the episode's seed. The page
is unchanged by it, so the solver's next call sees the same problem and answers it: the run shows a
miss and the recovery. The missed step's record says so (``serving.deliberate_miss``), and
``agent export`` keeps it as history only, never as an answer to learn.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from .moves import CssPoint, Move, PolicyGaveUp
from .page import Page

POINTING_KINDS = frozenset({"click", "double_click", "drag", "scroll"})
_GRID_CSS_PX = 4  # between candidate points: a 160x160 area has ~1,500
_INSET_CSS_PX = 3  # away from the area's edges, so the point is on screen whatever the rounding
# Blank around the point too: the answer rounds it to whole frame units (1.4 CSS px at zoom 1 in a
# 112x140 frame), and a miss that lands on the button beside it ends the episode (seen: enter-text's
# Submit, 2 of 700 episodes, before this margin).
_MARGIN_CSS_PX = 4
# Three misses in a row near each other end a recording: the agent's loop guard (runtime/repetition.py)
# takes clicks a few frame units apart on an unchanged screen for one action repeated, and stops the
# episode as stuck at the third (seen once in 100 three-miss enter-text episodes, whose blank strip is
# narrow). "Near" here is 16 CSS px, more than the guard's 6 units wherever a frame unit is at most 2.6
# CSS px (1.4 at zoom 1 in a 112x140 frame).
_NEAR_CSS_PX = 16
_DRAWS = 20  # a page whose blank spots all lie near the last misses keeps the last draw

# Blank: the area's own background, or a plain element inside it that is not (inside) a control. A click
# on a label focuses its field, so labels count as controls.
_BLANK_POINTS = """
var area = document.getElementById('area'), step = arguments[0], inset = arguments[1], margin = arguments[2];
var out = [];
if (!area) { return out; }
var controls = 'input,button,a,select,option,textarea,label,svg,canvas,[onclick],[tabindex],[contenteditable]';
function ownText(el) {
  for (var node = el.firstChild; node; node = node.nextSibling) {
    if (node.nodeType === 3 && node.textContent.trim()) { return true; }
  }
  return false;
}
function blank(x, y) {
  var hit = document.elementFromPoint(x, y);
  return !!hit && area.contains(hit) && !hit.closest(controls) && !ownText(hit);
}
var r = area.getBoundingClientRect();
for (var y = r.top + inset; y < r.bottom - inset; y += step) {
  for (var x = r.left + inset; x < r.right - inset; x += step) {
    if (blank(x, y) && blank(x - margin, y) && blank(x + margin, y) && blank(x, y - margin) && blank(x, y + margin)) {
      out.push([x, y]);
    }
  }
}
return out;
"""


def blank_points(page: Page) -> list[CssPoint]:
    """Points of the task area (``#area``) where a click reaches no control and no text, only background,
    and so do the points a margin away on each side."""
    found = page.js(_BLANK_POINTS, _GRID_CSS_PX, _INSET_CSS_PX, _MARGIN_CSS_PX) or []
    return [(float(x), float(y)) for x, y in found if page.shows((float(x), float(y)))]


def missed(move: Move, page: Page, rng: random.Random, earlier: Sequence[CssPoint] = ()) -> Move:
    """``move`` aimed at blank page instead (a drag from one blank point to another), not a third near
    miss in a row after the ``earlier`` misses' points where the page allows; PolicyGaveUp when the page
    has no blank spot."""
    if move.kind not in POINTING_KINDS:
        raise ValueError(f"a {move.kind} move has no point to miss with")
    blanks = blank_points(page)
    if not blanks:
        raise PolicyGaveUp("the task area has no blank spot to miss on")
    start = _away_from(earlier, blanks, rng)
    end = rng.choice(blanks) if move.kind == "drag" else None
    return replace(move, point=start, end=end)


def _away_from(earlier: Sequence[CssPoint], blanks: Sequence[CssPoint], rng: random.Random) -> CssPoint:
    """A blank point, drawn again while it would be the third near miss in a row. Only then: every other
    miss stays where the same seed put it before this rule (by their recorded points, 14 of the flywheel
    data set's 1,000 two- and three-miss episodes had such a third miss)."""
    for _ in range(_DRAWS):
        point = rng.choice(blanks)
        if len(earlier) < 2 or not (_near(point, earlier[-1]) and _near(earlier[-1], earlier[-2])):
            break
    return point


def _near(a: CssPoint, b: CssPoint) -> bool:
    return max(abs(a[0] - b[0]), abs(a[1] - b[1])) <= _NEAR_CSS_PX


class Misses:
    """How many pointing moves are still to miss in one episode, and the seeded choice of where."""

    def __init__(self, count: int, seed: int) -> None:
        self.left = count
        self._rng = random.Random(seed)
        self._points: list[CssPoint] = []  # where this episode's misses went

    def due(self, move: Move) -> bool:
        """Whether ``move`` is to miss: misses are left and it points somewhere."""
        return self.left > 0 and move.kind in POINTING_KINDS

    def apply(self, move: Move, page: Page) -> Move:
        """``move`` missed (call it for a move that is ``due``); one miss fewer left."""
        self.left -= 1
        move = missed(move, page, self._rng, self._points)
        if move.point is not None:
            self._points.append(move.point)
        return move
