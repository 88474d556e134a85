"""Every task the reference policy can play, with the kinds of action each one exercises."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import solvers_click, solvers_forms, solvers_pointer
from .moves import Move
from .page import Page


@dataclass(frozen=True)
class TaskSolver:
    task: str
    solve: Callable[[Page], Move]
    kinds: tuple[str, ...]  # click, double-click, type, select, checkbox, drag, scroll, hotkey, multi-step


SOLVERS: dict[str, TaskSolver] = {
    task: TaskSolver(task, solve, kinds)
    for module in (solvers_click, solvers_forms, solvers_pointer)
    for task, (solve, kinds) in module.SOLVERS.items()
}
