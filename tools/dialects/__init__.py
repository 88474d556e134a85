"""Dialects: how each model family is prompted and how its answer is read.

``get_dialect("qwen")`` for stock Qwen2.5-VL-Instruct (``<tool_call>`` JSON),
``get_dialect("uitars")`` for UI-TARS and models trained on its
``Thought: / Action:`` format. Both parse into the same Action union.
"""

from __future__ import annotations

import re

from qwen_gui_agent.tools.dialects.base import (
    Coordinates,
    Dialect,
    DialectInfo,
    GroundingHit,
    HistoryStep,
    ParsedAnswer,
    PromptContext,
)
from qwen_gui_agent.tools.dialects.qwen import QwenDialect
from qwen_gui_agent.tools.dialects.uitars import UITarsDialect

_DIALECTS: dict[str, type[Dialect]] = {"qwen": QwenDialect, "uitars": UITarsDialect}
DIALECT_NAMES: tuple[str, ...] = tuple(_DIALECTS)

# "ByteDance-Seed/UI-TARS-1.5-7B", "bytedance-research/UI-TARS-7B-DPO", "ui_tars_7b", "my-uitars-sft" ...
_UITARS_MODEL = re.compile(r"ui[-_ ]?tars", re.IGNORECASE)


def get_dialect(name: str, *, coordinates: Coordinates = "absolute") -> Dialect:
    """The dialect called ``name`` (or one of its aliases)."""
    folded = name.strip().lower()
    for key, cls in _DIALECTS.items():
        if folded == key or folded in cls.info.aliases:
            return cls(coordinates=coordinates)
    raise ValueError(f"unknown dialect {name!r}; choose one of: {', '.join(DIALECT_NAMES)}")


def default_dialect_for_model(model_name: str) -> str:
    """``uitars`` for UI-TARS models (by name), ``qwen`` for everything else."""
    return "uitars" if _UITARS_MODEL.search(model_name or "") else "qwen"


__all__ = [
    "DIALECT_NAMES", "Dialect", "DialectInfo", "GroundingHit", "HistoryStep", "ParsedAnswer", "PromptContext",
    "QwenDialect", "UITarsDialect", "default_dialect_for_model", "get_dialect",
]
