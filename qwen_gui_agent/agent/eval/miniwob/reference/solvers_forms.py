"""Solvers of the form tasks: typing into fields, choosing from lists, checkboxes and radios, multi-step forms."""

from __future__ import annotations

import re

from .common import fill, press, set_checked, settled, slide
from .moves import Move, PolicyGaveUp, click, hotkey, type_text
from .page import Element, Page

_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")


def enter_text(page: Page) -> Move:
    text = page.quoted()
    return fill(page, "#tt", text, "text field") or press(page.one("#subbtn"), "Submit")


def enter_text_2(page: Page) -> Move:
    text = page.quoted()
    wanted = text.upper() if "upper case" in page.utterance else text.lower()
    return fill(page, "#tt", wanted, "text input") or press(page.one("#subbtn"), "Submit")


def enter_password(page: Page) -> Move:
    password = page.quoted()
    return (
        fill(page, "#password", password, "password field")
        or fill(page, "#verify", password, "verify field")
        or press(page.one("#subbtn"), "Submit")
    )


def login_user(page: Page) -> Move:
    user, password = page.quoted(0), page.quoted(1)
    return (
        fill(page, "#username", user, "username field")
        or fill(page, "#password", password, "password field")
        or press(page.one("#subbtn"), "Login")
    )


def enter_date(page: Page) -> Move:
    month, day, year = page.match(r"(\d\d)/(\d\d)/(\d{4})").groups()
    field = page.one("#tt")
    if field.value == f"{year}-{month}-{day}":
        return press(page.one("#subbtn"), "Submit")
    if not field.focused or field.value:
        # The month part is the field's left end: typing there fills month, day and year in turn.
        left = (field.rect.left + min(12.0, field.rect.width / 6), field.rect.centre[1])
        return click(left, "Click the month part of the date field.")
    return type_text(f"{month}{day}{year}", f"Type the date {month}/{day}/{year}.")


def use_autocomplete(page: Page) -> Move:
    groups = page.match(r'starts with "([^"]*)"(?: and ends with "([^"]*)")?').groups()
    start, end = groups[0], groups[1] or ""
    item = page.js(
        """
        var items = ui_utils.COUNTRIES;
        for (var i = 0; i < items.length; i++) {
          if (items[i].indexOf(arguments[0]) === 0 && items[i].slice(items[i].length - arguments[1].length) === arguments[1])
            { return items[i]; }
        }
        return null;""",
        start,
        end,
    )
    if item is None:
        raise PolicyGaveUp(f"no item starts with {start!r} and ends with {end!r}")
    field = page.one("#tags")
    offered = [entry for entry in page.all(".ui-menu-item", text=item) if page.shows(entry.target)]
    if field.value == item:
        if page.all(".ui-autocomplete"):
            return hotkey("esc", "Close the suggestions.")
        return press(page.one("#subbtn"), "Submit")
    if offered and field.value and item.startswith(field.value):
        return settled(page) or press(offered[0], f'the suggestion "{item}"')
    if not field.focused:
        return click(field.target, "Click the text field.")
    if not field.value:
        return type_text(start, f'Type "{start}" and look at the suggestions.')
    if item.startswith(field.value):
        return type_text(item[len(field.value) :], f'Type the rest of "{item}".')
    return hotkey("ctrl a", "Select the wrong text to replace it.")


def choose_list(page: Page) -> Move:
    # The wanted item is chosen in every episode, also where the list already shows it (MiniWoB++ draws
    # the wanted index among the options, so about one seed in six): skipping to Submit there would teach
    # a student model one procedure or another depending on the word drawn in the closed list, which the
    # small models of the fine-tuning loop cannot read at a few image tokens a screen (docs/finetune.md,
    # "choose-list's one procedure"). Choosing the item already chosen changes nothing on the page.
    wanted = page.match(r"Select (.+) from the list").group(1)
    step = page.memory.get("list", "closed")
    if step == "closed":
        page.memory["list"] = "open"
        return click(page.one("#options").target, "Open the list.")
    if step == "open":  # typing an option's name in the open list picks it, Enter confirms
        page.memory["list"] = "typed"
        return type_text(wanted, f'Type "{wanted}" to pick it in the list.')
    if step == "typed":
        page.memory["list"] = "confirmed"
        return hotkey("enter", "Confirm the choice.")
    chosen = page.js("var s = document.getElementById('options'); return s.options[s.selectedIndex].textContent;")
    if chosen != wanted:  # the typing picked another item: open the list again
        page.memory["list"] = "open"
        return click(page.one("#options").target, "Open the list again.")
    return press(page.one("#area button", text="Submit"), "Submit")


def click_option(page: Page) -> Move:
    name = page.match(r"Select (\S+) and click Submit").group(1)
    radio = _input_labelled(page, name)
    return set_checked(radio, True, name) or press(page.one("#subbtn"), "Submit")


def click_checkboxes(page: Page) -> Move:
    listed = page.match(r"Select (.*) and click Submit").group(1)
    wanted = set() if listed == "nothing" else {name.strip() for name in listed.split(",")}
    names = page.js("return Array.from(document.querySelectorAll('#boxes label')).map(l => l.textContent);")
    for name in names:
        move = set_checked(_input_labelled(page, name), name in wanted, name)
        if move is not None:
            return move
    return press(page.one("#subbtn"), "Submit")


def form_sequence(page: Page) -> Move:
    value, ordinal = page.match(r"Select (-?\d+) with the slider, click the (\d)\w\w checkbox").groups()
    waiting = settled(page)
    if waiting is not None:
        return waiting
    sliding = slide(page, int(value), -10, 10)
    if sliding is not None:
        return sliding
    for number in (1, 2, 3):
        move = set_checked(page.one(f"#checkbox-{number}"), str(number) == ordinal, f"checkbox {number}")
        if move is not None:
            return move
    return press(page.one("#subbtn"), "Submit")


def search_engine(page: Page) -> Move:
    name = page.quoted()
    position = int(_ORDINAL.search(page.utterance.rsplit("click the", 1)[-1]).group(1))  # type: ignore[union-attr]
    searched = page.js("return $('#pagination li').length > 0 && $('#search-text').val();")
    if searched != name:
        return fill(page, "#search-text", name, "search box") or press(page.one("#search"), '"Search"')
    index = position - 1
    results = page.all(f'#page-content a[data-result="{index}"]')
    if results:
        return press(results[0], f"the {position}{_suffix(position)} result")
    return press(page.one("#pagination a", text=str(index // 3 + 1)), f"page {index // 3 + 1} of the results")


def copy_paste(page: Page) -> Move:
    text = page.js("return document.getElementById('to-copy').value;")
    answer = page.one("#answer-input")
    if answer.value == text:
        return press(page.one("#subbtn"), "Submit")
    if not page.memory.get("copied"):
        source = page.one("#to-copy")
        if not source.focused:
            return click(source.target, "Click into the text to copy.")
        if not page.js(
            "var t = document.getElementById('to-copy');"
            "return t.selectionStart === 0 && t.selectionEnd === t.value.length;"
        ):
            return hotkey("ctrl a", "Select all the text.")
        page.memory["copied"] = True
        return hotkey("ctrl c", "Copy it.")
    if not answer.focused:
        return click(answer.target, "Click the answer field.")
    page.memory["copied"] = False  # pasted: if the field is still wrong, copy again
    return hotkey("ctrl v", "Paste the text.")


def _input_labelled(page: Page, name: str) -> Element:
    found = page.js(
        """
        var labels = document.querySelectorAll('#area label');
        for (var i = 0; i < labels.length; i++) {
          if (labels[i].textContent.trim() === arguments[0]) {
            var input = labels[i].querySelector('input'); return input ? '#' + input.id : null; }
        }
        return null;""",
        name,
    )
    if found is None:
        raise PolicyGaveUp(f"no option labelled {name!r}")
    return page.one(found)


def _suffix(number: int) -> str:
    return {1: "st", 2: "nd", 3: "rd"}.get(number, "th")


SOLVERS = {
    "enter-text": (enter_text, ("type", "multi-step")),
    "enter-text-2": (enter_text_2, ("type", "multi-step")),
    "enter-password": (enter_password, ("type", "multi-step")),
    "login-user": (login_user, ("type", "multi-step")),
    "enter-date": (enter_date, ("type",)),
    "use-autocomplete": (use_autocomplete, ("type", "select")),
    "choose-list": (choose_list, ("select", "type")),
    "click-option": (click_option, ("select",)),
    "click-checkboxes": (click_checkboxes, ("checkbox",)),
    "form-sequence": (form_sequence, ("checkbox", "multi-step")),
    "search-engine": (search_engine, ("type", "multi-step")),
    "copy-paste": (copy_paste, ("hotkey", "multi-step")),
}
