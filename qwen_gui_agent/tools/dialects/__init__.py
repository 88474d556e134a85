"""Dialects: how each model family is prompted and how its answer is read.

``get_dialect("qwen")`` for stock Qwen2.5-VL-Instruct (``<tool_call>`` JSON),
``get_dialect("uitars")`` for UI-TARS and models trained on its
``Thought: / Action:`` format, ``qwen3`` / ``qwen3.5`` / ``guiowl`` for the Qwen3
generation (qwen3.py). All parse into the same Action union. Which model speaks
which dialect is the registry's business (``qwen_gui_agent.tools.models``).
"""

from __future__ import annotations

from ..models import match_name
from .base import (
    Coordinates,
    Dialect,
    DialectInfo,
    GroundingHit,
    HistoryStep,
    ParsedAnswer,
    PromptContext,
)
from .qwen import QwenDialect
from .qwen3 import GuiOwlDialect, Qwen3Dialect, Qwen35Dialect
from .uitars import UITarsDialect

_DIALECTS: dict[str, type[Dialect]] = {
    "qwen": QwenDialect, "uitars": UITarsDialect, "qwen3": Qwen3Dialect, "qwen3.5": Qwen35Dialect,
    "guiowl": GuiOwlDialect,
}
DIALECT_NAMES: tuple[str, ...] = tuple(_DIALECTS)


def get_dialect(name: str, *, coordinates: Coordinates | None = None) -> Dialect:
    """The dialect called ``name`` (or one of its aliases); ``coordinates`` None = the dialect's own default."""
    folded = name.strip().lower()
    for key, cls in _DIALECTS.items():
        if folded == key or folded in cls.info.aliases:
            return cls(coordinates=coordinates)
    raise ValueError(f"unknown dialect {name!r}; choose one of: {', '.join(DIALECT_NAMES)}")


def default_dialect_for_model(model_name: str) -> str:
    """The dialect of the model family the name matches (tools/models.py); ``qwen`` for a name it does not know."""
    match = match_name(model_name or "")
    return match.family.dialect if match else "qwen"


__all__ = [
    "DIALECT_NAMES", "Dialect", "DialectInfo", "GroundingHit", "HistoryStep", "ParsedAnswer", "PromptContext",
    "GuiOwlDialect", "Qwen35Dialect", "Qwen3Dialect", "QwenDialect", "UITarsDialect", "default_dialect_for_model",
    "get_dialect",
]
