"""One-shot "find X" answers: where on the screenshot the asked-for element is.

Qwen2.5-VL answers grounding questions with JSON such as
``[{"bbox_2d": [x1, y1, x2, y2], "label": "Search"}]`` (or ``point_2d``);
UI-TARS answers with a point or a click. Both dialects read all of them.
"""

from __future__ import annotations

import re

from ..errors import ActionParseError
from ..frames import ModelFrame, read_point
from .base import GroundingHit
from .tool_calls import json_values, strip_fences
from .uitars_calls import action_from_text, read_answer

EXPECTED_GROUNDING = '[{"bbox_2d": [x1, y1, x2, y2], "label": "..."}] or a point (x,y)'
_MAX_JSON_TRIES = 16
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
# Point forms anywhere in free text, most specific first.
_LOOSE_POINTS = (
    re.compile(rf"<point>\s*{_NUMBER}[\s,]+{_NUMBER}\s*</point>"),
    re.compile(r"<\|box_start\|>.*?<\|box_end\|>", re.DOTALL),
    re.compile(rf"\[\s*{_NUMBER}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}\s*,\s*{_NUMBER}\s*\]"),
    re.compile(rf"[\[(]\s*{_NUMBER}\s*,\s*{_NUMBER}\s*[\])]"),
)


def parse_grounding(answer: str, frame: ModelFrame) -> list[GroundingHit]:
    """Every located object in ``answer``, in the order given; raises if there is none."""
    text = strip_fences(answer)
    hits = _json_hits(text, frame)
    if not hits:
        hits = _call_or_point_hits(text, frame)
    if not hits:
        raise ActionParseError("no location found in the answer", excerpt=answer, expected=EXPECTED_GROUNDING)
    return hits


def _json_hits(text: str, frame: ModelFrame) -> list[GroundingHit]:
    hits: list[GroundingHit] = []
    for _, value in json_values(text, "[{", _MAX_JSON_TRIES):
        items = value if isinstance(value, list) else [value]
        hits.extend(_hit(item, frame) for item in items if isinstance(item, dict) and _location_of(item) is not None)
    return hits


def _location_of(item: dict[str, object]) -> object | None:
    for key in ("bbox_2d", "point_2d", "bbox", "point", "box", "coordinate"):
        if key in item:
            return item[key]
    return None


def _hit(item: dict[str, object], frame: ModelFrame) -> GroundingHit:
    location = _location_of(item)
    label = item.get("label", "")
    point = read_point(location, frame)
    box = None
    if isinstance(location, (list, tuple)) and len(location) == 4:
        x1, y1, x2, y2 = (round(float(v)) for v in location)  # read_point checked they are numbers
        box = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return GroundingHit(point=point, label=label if isinstance(label, str) else str(label), box=box)


def _call_or_point_hits(text: str, frame: ModelFrame) -> list[GroundingHit]:
    answer = read_answer(text)
    if answer is not None:
        action = action_from_text(answer.calls[0], frame)
        points = action.points()
        if points:
            return [GroundingHit(point=points[0])]
    for pattern in _LOOSE_POINTS:
        match = pattern.search(text)
        if match:
            return [GroundingHit(point=read_point(match.group(0), frame))]
    return []
