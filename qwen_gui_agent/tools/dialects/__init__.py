"""Dialects: how each model family is prompted and how its answer is read.

``get_dialect("qwen")`` for stock Qwen2.5-VL-Instruct (``<tool_call>`` JSON),
``get_dialect("uitars")`` for UI-TARS and models trained on its
``Thought: / Action:`` format, ``qwen3`` / ``qwen3.5`` / ``guiowl`` for the Qwen3
generation (qwen3.py). All parse into the same Action union. Which model speaks
which dialect is the registry's business (``qwen_gui_agent.tools.models``).
"""

from __future__ import annotations

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

# The registry: a new dialect is one file in this folder and one line here (ARCHITECTURE.md). Everything
# that names dialects (--dialect, `agent parse`, task files, the Python API) reads this table.
_DIALECTS: dict[str, type[Dialect]] = {
    "qwen": QwenDialect,
    "uitars": UITarsDialect,
    "qwen3": Qwen3Dialect,
    "qwen3.5": Qwen35Dialect,
    "guiowl": GuiOwlDialect,
}


def dialect_names() -> tuple[str, ...]:
    """The names ``get_dialect`` knows, in the registry's order."""
    return tuple(_DIALECTS)


def check_dialect_name(name: str) -> str:
    """``name`` (or an alias) as the registry spells it; ValueError listing the known names otherwise."""
    folded = name.strip().lower()
    for key, cls in _DIALECTS.items():
        if folded == key or folded in cls.info.aliases:
            return key
    raise ValueError(f"unknown dialect {name!r}; choose one of: {', '.join(dialect_names())}")


def get_dialect(name: str, *, coordinates: Coordinates | None = None) -> Dialect:
    """The dialect called ``name`` (or one of its aliases); ``coordinates`` None = the dialect's own default."""
    return _DIALECTS[check_dialect_name(name)](coordinates=coordinates)


__all__ = [
    "check_dialect_name",
    "dialect_names",
    "Dialect",
    "DialectInfo",
    "GroundingHit",
    "HistoryStep",
    "ParsedAnswer",
    "PromptContext",
    "GuiOwlDialect",
    "Qwen35Dialect",
    "Qwen3Dialect",
    "QwenDialect",
    "UITarsDialect",
    "get_dialect",
]
