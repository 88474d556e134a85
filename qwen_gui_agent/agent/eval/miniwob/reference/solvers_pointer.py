"""Solvers of the pointer tasks: drags, a slider, scrolling, selecting text by dragging or double-clicking."""

from __future__ import annotations

import math
import re

from ..view import CssRect
from .common import press, settled, slide
from .moves import Move, PolicyGaveUp, click, double_click, drag, hotkey, scroll
from .page import Page

_ITEM_TARGETS = {"to the top.": 1, "up by one position.": -1, "down by one position.": 1}
_TEXT_ENDS = """
var holder = document.querySelector(arguments[0]);
var walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
var nodes = [], node;
while ((node = walker.nextNode())) { if (node.textContent.trim()) { nodes.push(node); } }
if (!nodes.length) { return null; }
function box(textNode, offset) {
  var range = document.createRange(); range.setStart(textNode, offset); range.setEnd(textNode, offset + 1);
  var r = range.getBoundingClientRect(); return [r.left, r.top, r.width, r.height];
}
var first = nodes[0], last = nodes[nodes.length - 1];
var start = first.textContent.search(/\\S/), end = last.textContent.replace(/\\s+$/, '').length - 1;
return [box(first, start), box(last, end)];
"""


def drag_box(page: Page) -> Move:
    if page.js("return smallBoxContained();"):
        return press(page.one("#subbtn"), "Submit")
    small, large = page.one("#draggableSmall"), page.one("#draggableLarge")
    # Inside means the small box's corner 0..30 px right of and below the large one's: aim for the middle, 15.
    dx = large.rect.left + 15 - small.rect.left
    dy = large.rect.top + 15 - small.rect.top
    start = small.target
    return drag(start, (start[0] + dx, start[1] + dy), "Drag the small box into the middle of the large one.")


def drag_items(page: Page) -> Move:
    name, where = page.match(r"Drag (.+?) (to the .+|up by one position\.|down by one position\.)$").groups()
    items = page.all("#sortable li")
    names = [item.text for item in items]
    if name not in names:
        raise PolicyGaveUp(f"no item {name!r} in the list")
    source = names.index(name)
    if where == "to the bottom.":
        target = len(items) - 1
    elif where == "to the top.":
        target = 0
    elif where in _ITEM_TARGETS:
        target = source + _ITEM_TARGETS[where]
    else:
        target = int(re.match(r"to the (\d+)", where).group(1)) - 1  # type: ignore[union-attr]
    # The list makes room under the pointer once it is well inside an item: aim at the target item's far half.
    rect = items[target].rect
    end = (rect.centre[0], rect.top + rect.height * (0.8 if target > source else 0.2))
    return drag(items[source].target, end, f"Drag {name} {where.rstrip('.')}.")


def use_slider(page: Page) -> Move:
    wanted = int(page.match(r"Select (-?\d+) with the slider").group(1))
    low, high, orientation = page.js(
        "var s = $('#slider'); return [s.slider('option', 'min'), s.slider('option', 'max'), "
        "s.slider('option', 'orientation')];"
    )
    return (
        settled(page)
        or slide(page, wanted, int(low), int(high), vertical=orientation == "vertical")
        or press(page.one("#subbtn"), "Submit")
    )


def scroll_text_2(page: Page) -> Move:
    to_bottom = "bottom" in page.utterance
    top, height, shown = page.js(
        "var t = document.getElementById('text-area'); return [t.scrollTop, t.scrollHeight, t.offsetHeight];"
    )
    left_to_go = height - (shown + top) if to_bottom else top
    if left_to_go < 5:
        return press(page.one("#subbtn"), "Submit")
    clicks = min(10, max(1, math.ceil(left_to_go / 50)))
    area = page.one("#text-area")
    return scroll(
        area.rect.centre,
        "down" if to_bottom else "up",
        clicks,
        f"Scroll the text {'down' if to_bottom else 'up'} towards its {'bottom' if to_bottom else 'top'}.",
    )


def highlight_text(page: Page) -> Move:
    wanted = re.sub(r"\s", "", page.js("return document.getElementById('randomText').textContent;"))
    selected = re.sub(r"\s", "", page.js("return window.getSelection().toString();"))
    if selected == wanted:
        return press(page.one("#subbtn"), "Submit")
    first, last = _text_ends(page, "#randomText")
    return drag(
        (first.left + 0.25, first.centre[1]),
        (last.left + last.width - 0.25, last.centre[1]),
        "Drag across the paragraph to highlight all of its text.",
    )


def text_editor(page: Page) -> Move:
    text = page.js("return editor.getText().replace(/\\n$/, '');")
    colour = re.search(r"the color (\w+)", page.utterance)
    style = re.search(r"the style (\w+)", page.utterance)
    word_match = re.search(r"give the text (\S+) the", page.utterance)
    word = word_match.group(1) if word_match else None
    if _styled(page, text, word, colour.group(1) if colour else None, style.group(1) if style else None):
        return press(page.one("#subbtn"), "Submit")
    waiting = settled(page)
    if waiting is not None:
        return waiting
    if word:
        found = re.search(rf"(?<!\S){re.escape(word)}(?!\S)", text)  # the word on its own, not inside another
        if found is None:
            raise PolicyGaveUp(f"the editor does not hold the word {word!r}")
        start, length = found.start(), len(word)
    else:
        start, length = 0, len(text)
    # Quill keeps the selection it had when a toolbar control took the focus: that is what the control formats.
    selection = page.js(
        "var s = editor.getSelection() || editor.selection.savedRange; return s ? [s.index, s.length] : null;"
    )
    if selection is None or (selection[0], selection[1]) != (start, length):
        return _select_in_editor(page, start, length, word)
    if colour is None:
        button = {"bold": ".ql-bold", "italics": ".ql-italic", "underlined": ".ql-underline"}[style.group(1)]  # type: ignore[union-attr]
        return press(page.one(button), f"the {style.group(1)} button")  # type: ignore[union-attr]
    swatch = page.js("return COLOR_MAP[arguments[0]][0];", colour.group(1))
    items = [item for item in page.all(f'.ql-color .ql-picker-item[data-value="{swatch}"]') if page.shows(item.target)]
    if items:
        return press(items[0], f"the {colour.group(1)} colour")
    return press(page.one(".ql-color .ql-picker-label"), "the colour picker")


def _select_in_editor(page: Page, start: int, length: int, word: str | None) -> Move:
    bounds = page.js(
        """
        var b = editor.getBounds(arguments[0], arguments[1]), c = editor.container.getBoundingClientRect();
        return [c.left + b.left, c.top + b.top, b.width, b.height];""",
        start,
        length,
    )
    rect = CssRect(*bounds)
    if word is not None and word.isalnum():
        return double_click(rect.centre, f'Double-click "{word}" to select it.')
    if word is None and page.js("return document.activeElement === editor.root;"):
        return hotkey("ctrl a", "Select all the text.")
    if word is None:
        return click((rect.left + rect.width - 1, rect.centre[1]), "Click into the text.")
    return drag(
        (rect.left + 0.25, rect.centre[1]),
        (rect.left + rect.width - 0.25, rect.centre[1]),
        f'Drag across "{word}" to select it.',
    )


def _styled(page: Page, text: str, word: str | None, colour: str | None, style: str | None) -> bool:
    return bool(
        page.js(
            """
        var ops = editor.getContents().ops, word = arguments[0], colour = arguments[1], style = arguments[2];
        try {  // the task's own checks, which throw on some unstyled texts
          if (colour) { return word ? singleColored(ops, word, colour) : allColored(ops, arguments[3], colour); }
          return word ? singleStyled(ops, word, style) : allStyled(ops, arguments[3], style);
        } catch (error) { return false; }""",
            word,
            colour,
            style,
            text,
        )
    )


def _text_ends(page: Page, selector: str) -> tuple[CssRect, CssRect]:
    ends = page.js(_TEXT_ENDS, selector)
    if not ends:
        raise PolicyGaveUp(f"{selector} holds no text")
    return CssRect(*ends[0]), CssRect(*ends[1])


SOLVERS = {
    "drag-box": (drag_box, ("drag", "multi-step")),
    "drag-items": (drag_items, ("drag",)),
    "use-slider": (use_slider, ("click", "hotkey")),
    "scroll-text-2": (scroll_text_2, ("scroll",)),
    "highlight-text": (highlight_text, ("drag",)),
    "text-editor": (text_editor, ("double-click", "hotkey", "multi-step")),
}
