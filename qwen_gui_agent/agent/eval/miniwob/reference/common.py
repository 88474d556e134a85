"""Moves many solvers share: press an element, fill a text field, set a checkbox, wait out an animation.

Each helper looks at the element as it is now and returns the one move that brings it closer to
what is wanted, or None when it is already so: solvers chain them (``a or b or c``), so a step
that went wrong is simply tried again at the next call.
"""

from __future__ import annotations

from .moves import Move, click, hotkey, type_text, wait
from .page import Element, Page

_SELECTION = """
var el = document.querySelector(arguments[0]);
try { return el ? [el.selectionStart, el.selectionEnd, (el.value || '').length] : null; }
catch (error) { return null; }
"""


def press(element: Element, what: str) -> Move:
    return click(element.target, f"Click {what}.")


def settled(page: Page) -> Move | None:
    """A wait while an animation still moves the page (a point read now could be stale at the click)."""
    return wait("Wait for the page to finish moving.", 0.5) if page.animating() else None


def fill(page: Page, selector: str, text: str, what: str) -> Move | None:
    """Make the field ``selector`` hold ``text``: focus it, select what is wrong in it, type; None once it does."""
    field = page.one(selector)
    if field.value == text:
        return None
    if not field.focused:
        return click(field.target, f"Click the {what} to type into it.")
    if field.value and not _all_selected(page, selector):
        return hotkey("ctrl a", f"Select the text in the {what}, to replace it.")
    return type_text(text, f'Type "{text}" into the {what}.')


def set_checked(element: Element, wanted: bool, what: str) -> Move | None:
    if element.checked == wanted:
        return None
    return click(element.target, f"{'Check' if wanted else 'Uncheck'} {what}.")


def _all_selected(page: Page, selector: str) -> bool:
    selection = page.js(_SELECTION, selector)
    return bool(selection) and selection[0] == 0 and selection[1] == selection[2]


def slide(page: Page, wanted: int, low: int, high: int, *, vertical: bool = False) -> Move | None:
    """Bring the jQuery UI slider to ``wanted``: click the track there, then arrow keys for the last steps."""
    value = int(page.js("return $('#slider').slider('value');"))
    if value == wanted:
        return None
    handle = page.one("#slider .ui-slider-handle")
    if handle.focused and abs(value - wanted) <= 3:
        key = ("up" if vertical else "right") if wanted > value else ("down" if vertical else "left")
        return hotkey(key, f"Press {key} to move the slider from {value} to {wanted}.")
    track = page.one("#slider").rect
    share = (wanted - low) / (high - low)
    point = (
        (track.centre[0], track.top + track.height * (1 - share))
        if vertical
        else (track.left + track.width * share, track.centre[1])
    )
    return click(point, f"Click the slider where it reads {wanted}.")
