"""Which MiniWoB++ tasks an eval plays: the default set (every kind of action), or the tasks the user names.

The default set is the reference policy's 32 tasks: clicks (buttons, links, tabs, dialogs, widgets, a
grid, shapes), a double-click (text-editor), typing (fields, passwords, a date, autocomplete),
choosing from a list, radio buttons and checkboxes, drags (boxes, a sortable list, text selection),
a slider, scrolling, copy and paste, and multi-step forms (login, search, form-sequence). Any
other task of the miniwob package may be named for a model; the reference policy plays its own.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .reference.catalog import SOLVERS

DEFAULT_TASKS: tuple[str, ...] = tuple(SOLVERS)
# The CI subset: five tasks of different kinds, each quick to play.
CI_TASKS: tuple[str, ...] = ("click-button", "enter-text", "choose-list", "click-checkboxes", "drag-box")


class UnknownTask(ValueError):
    """A task name the miniwob package does not have, or one the chosen policy cannot play."""


def available_tasks() -> list[str]:
    """Every MiniWoB++ task the installed miniwob package ships a page for (flight tasks aside)."""
    import miniwob

    pages = Path(miniwob.__file__).parent / "html" / "miniwob"
    return sorted(path.stem for path in pages.glob("*.html"))


def resolve_tasks(names: list[str], *, reference: bool) -> list[str]:
    """The tasks to play, in order, each once: the default set when none is named."""
    if not names:
        return list(DEFAULT_TASKS)
    known = set(available_tasks())
    tasks: list[str] = []
    for name in names:
        task = name.strip().removeprefix("miniwob/").removesuffix("-v1")
        if task not in known:
            close = difflib.get_close_matches(task, sorted(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; the miniwob package has no such page"
            raise UnknownTask(f"unknown MiniWoB++ task {name!r}{hint}")
        if reference and task not in SOLVERS:
            raise UnknownTask(f"the reference policy has no solver for {task!r}; it plays: {', '.join(SOLVERS)}")
        if task not in tasks:
            tasks.append(task)
    return tasks
