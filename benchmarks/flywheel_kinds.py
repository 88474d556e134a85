"""The action kind of an exported row's answer (click, type, scroll, drag, hotkey ...), read by the agent's own parsers.

The flywheel weights rows by this kind (``--repeat-kind scroll=8``): the kinds that are rare in the
demonstrations, and whose answer hangs on one word of the task (scroll up or down), get too little of
the training's signal when every row counts once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qwen_gui_agent.agent.eval.episode_figures.figures import action_kind
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.dialects.base import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame

DIALECTS = ("qwen", "uitars")  # the flywheel's; an answer is in one of them
# Large enough for any exported point: the parse here names the kind, not the place.
_FRAME = ModelFrame(width=4096, height=4096)


def answer_kind(answer: str) -> str | None:
    """The kind of the answer's first action in the first dialect that parses it (None: none does)."""
    for name in DIALECTS:
        try:
            actions = get_dialect(name).parse(answer, _FRAME).actions
        except ActionParseError:
            continue
        if actions:
            return action_kind(actions[0])
    return None


def rows_of_kind(rows: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [row for row in rows if answer_kind(row["messages"][-1]["content"]) == kind]
