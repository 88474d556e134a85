"""Solvers of the click tasks: a button, a link, a tab, a dialog's close box, a widget, a grid point, a shape."""

from __future__ import annotations

import re

from .common import press, settled
from .moves import Move, PolicyGaveUp
from .page import Page

_ORDINALS = {"1st": 0, "2nd": 1, "3rd": 2}


def click_test(page: Page) -> Move:
    return press(page.one("#subbtn"), 'the "Click Me!" button')


def click_test_2(page: Page) -> Move:
    label = page.match(r"Click button (\w+)").group(1)
    return press(page.one("#area button", text=label), f"button {label}")


def click_button(page: Page) -> Move:
    label = page.quoted()
    return press(page.one("#area button", text=label), f'the "{label}" button')


def click_link(page: Page) -> Move:
    text = page.quoted()
    return press(page.one("#area .alink", text=text), f'the link "{text}"')


def click_dialog(page: Page) -> Move:
    return settled(page) or press(page.one(".ui-dialog-titlebar-close"), 'the "x" that closes the dialog')


def click_dialog_2(page: Page) -> Move:
    label = page.quoted()
    if label == "x":
        return settled(page) or press(page.one(".ui-dialog-titlebar-close"), 'the "x" of the dialog')
    return settled(page) or press(page.one(".ui-dialog-buttonpane button", text=label), f'the "{label}" button')


def click_tab(page: Page) -> Move:
    tab = page.match(r"Tab #\d").group(0)
    return press(page.one("#area ul a", text=tab), tab)


def click_tab_2(page: Page) -> Move:
    text = page.quoted()
    shown = [link for link in page.all("#area .alink", text=text) if page.shows(link.target)]
    if shown:
        return press(shown[0], f'the link "{text}"')
    holder = page.js(
        """
        var links = document.querySelectorAll('#area .alink');
        for (var i = 0; i < links.length; i++) {
          if (links[i].textContent === arguments[0]) { return links[i].closest('[id^="tabs-"]').id; }
        }
        return null;""",
        text,
    )
    if holder is None:
        raise PolicyGaveUp(f'no tab holds the link "{text}"')
    tab = f"Tab #{holder.rsplit('-', 1)[1]}"
    return settled(page) or press(page.one("#area ul a", text=tab), f'{tab}, which holds the link "{text}"')


def click_widget(page: Page) -> Move:
    kind = page.quoted()
    return press(page.one(f'#area [data-type="{kind}"]'), f"a {kind} widget")


def click_collapsible(page: Page) -> Move:
    waiting = settled(page)
    if waiting is not None:
        return waiting
    if not page.all(".ui-accordion-content"):
        return press(page.one("#area h3"), "the section's header to expand it")
    return press(page.one("#subbtn"), "Submit")


def focus_text(page: Page) -> Move:
    return press(page.one("#tt"), "the text field")


def focus_text_2(page: Page) -> Move:
    ordinal = page.match(r"(1st|2nd|3rd) input").group(1)
    fields = page.all("#area input")
    if len(fields) <= _ORDINALS[ordinal]:
        raise PolicyGaveUp(f"there is no {ordinal} text field")
    return press(fields[_ORDINALS[ordinal]], f"the {ordinal} text field")


def grid_coordinate(page: Page) -> Move:
    point = re.sub(r"\s+", "", page.match(r"\(\s*-?\d+\s*,\s*-?\d+\s*\)").group(0))
    return press(page.one(f'#area circle[id="{point}"]'), f"the grid point {point}")


def identify_shape(page: Page) -> Move:
    kind = page.js("""
        var svg = document.getElementById('area_svg');
        var text = svg.querySelector('text');
        if (text) { return /[0-9]/.test(text.textContent) ? 'digit' : 'letter'; }
        if (svg.querySelector('circle')) { return 'circle'; }
        if (svg.querySelector('rect')) { return 'rectangle'; }
        if (svg.querySelector('polygon')) { return 'triangle'; }
        return null;""")
    if kind is None:
        raise PolicyGaveUp("the figure is not drawn")
    button = page.one(f'#area-buttons button[data-type="{kind}"]')
    return press(button, f'"{button.text}", which describes the figure')


SOLVERS = {
    "click-test": (click_test, ("click",)),
    "click-test-2": (click_test_2, ("click",)),
    "click-button": (click_button, ("click",)),
    "click-link": (click_link, ("click",)),
    "click-dialog": (click_dialog, ("click",)),
    "click-dialog-2": (click_dialog_2, ("click",)),
    "click-tab": (click_tab, ("click",)),
    "click-tab-2": (click_tab_2, ("click", "multi-step")),
    "click-widget": (click_widget, ("click",)),
    "click-collapsible": (click_collapsible, ("click", "multi-step")),
    "focus-text": (focus_text, ("click",)),
    "focus-text-2": (focus_text_2, ("click",)),
    "grid-coordinate": (grid_coordinate, ("click",)),
    "identify-shape": (identify_shape, ("click",)),
}
