"""The page as the reference policy reads it: elements found by selector and text, where a click reaches them.

Every question is one JavaScript call through the task's Selenium session (reading, never acting).
An element comes back with its rectangle (CSS px of the viewport) and a ``hit`` point: a point of
it that ``document.elementFromPoint`` says is the element itself or inside it, so a click there
reaches it even when another element covers its centre (click-test-2's buttons overlap).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..view import CssRect, TaskArea
from .moves import CssPoint, PolicyGaveUp

_ELEMENTS = """
var selector = arguments[0], out = [];
function hitPoint(el, r) {
  var fractions = [0.5, 0.3, 0.7, 0.15, 0.85];
  for (var i = 0; i < fractions.length; i++) {
    for (var j = 0; j < fractions.length; j++) {
      var x = r.left + r.width * fractions[j], y = r.top + r.height * fractions[i];
      var hit = document.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit))) { return [x, y]; }
    }
  }
  return null;
}
document.querySelectorAll(selector).forEach(function (el) {
  var r = el.getBoundingClientRect();
  if (r.width <= 0 || r.height <= 0) { return; }
  var style = window.getComputedStyle(el);
  if (style.visibility === 'hidden' || style.display === 'none') { return; }
  out.push({left: r.left, top: r.top, width: r.width, height: r.height, hit: hitPoint(el, r),
            text: (el.innerText === undefined ? el.textContent : el.innerText || el.textContent || '').trim(),
            value: el.value === undefined || el.value === null ? null : String(el.value),
            checked: !!el.checked, selected: !!el.selected, focused: document.activeElement === el,
            id: el.id || '', classes: typeof el.className === 'string' ? el.className : ''});
});
return out;
"""
_ANIMATING = "return !!(window.jQuery && window.jQuery(':animated').length);"


@dataclass(frozen=True)
class Element:
    rect: CssRect
    hit: CssPoint | None
    text: str
    value: str | None
    checked: bool
    selected: bool
    focused: bool
    id: str
    classes: str

    @property
    def target(self) -> CssPoint:
        """Where a click reaches the element: its hit point, else its centre."""
        return self.hit if self.hit is not None else self.rect.centre


class Page:
    """One episode's page: its instruction and a way to read its DOM now."""

    def __init__(
        self, utterance: str, fields: Sequence[tuple[str, str]], run_js: Callable[..., Any], area: TaskArea
    ) -> None:
        self.utterance = utterance
        self.fields = dict(fields)
        self._run_js = run_js
        self.area = area
        # What the policy did that the page cannot show (text copied, a list opened): its own notes.
        self.memory: dict[str, object] = {}

    def js(self, script: str, *arguments: Any) -> Any:
        """The value of ``script`` run in the page; a script error (the page is not as expected) gives up."""
        try:
            return self._run_js(script, *arguments)
        except Exception as error:
            if type(error).__name__ == "JavascriptException":  # selenium's, imported lazily elsewhere
                raise PolicyGaveUp(f"a script on the page failed: {str(error).strip().splitlines()[0]}") from None
            raise

    def all(self, selector: str, *, text: str | None = None, exact: bool = True) -> list[Element]:
        """The visible elements ``selector`` matches, in document order, optionally by their text."""
        found = [_element(raw) for raw in self.js(_ELEMENTS, selector) or []]
        if text is None:
            return found
        if exact:
            return [element for element in found if element.text == text]
        return [element for element in found if text.lower() in element.text.lower()]

    def one(self, selector: str, *, text: str | None = None, exact: bool = True) -> Element:
        """The first visible element ``selector`` (and ``text``) matches; PolicyGaveUp when there is none."""
        found = self.all(selector, text=text, exact=exact)
        if not found:
            wanted = f"{selector} with the text {text!r}" if text is not None else selector
            raise PolicyGaveUp(f"no visible {wanted} on the page")
        return found[0]

    def forget_notes_since(self, noted: dict[str, object]) -> bool:
        """Put ``memory`` back as ``noted`` (a copy taken earlier); whether the solver had changed it since.

        For a move that will not be played as the solver meant it (a deliberate miss) or not at all (a
        label of a page the model plays): the page will not have gone where the notes say."""
        changed = self.memory != noted
        self.memory.clear()
        self.memory.update(noted)
        return changed

    def animating(self) -> bool:
        """Whether a jQuery animation is still moving things (a click now could miss)."""
        return bool(self.js(_ANIMATING))

    def shows(self, point: CssPoint) -> bool:
        """Whether a point is inside the captured task area (the model can only answer points it sees)."""
        return self.area.contains(*point)

    def quoted(self, index: int = 0) -> str:
        """The ``index``-th quoted string of the instruction ("..." or “...”)."""
        found = re.findall(r'"([^"]*)"|“([^”]*)”', self.utterance)
        if len(found) <= index:
            raise PolicyGaveUp(f"the instruction {self.utterance!r} quotes fewer than {index + 1} strings")
        return next(part for part in found[index] if part is not None)

    def match(self, pattern: str) -> re.Match[str]:
        """The instruction matched against ``pattern``; PolicyGaveUp when it does not match."""
        found = re.search(pattern, self.utterance)
        if found is None:
            raise PolicyGaveUp(f"the instruction {self.utterance!r} does not read as {pattern!r}")
        return found


def _element(raw: dict[str, Any]) -> Element:
    hit = raw.get("hit")
    return Element(
        rect=CssRect(raw["left"], raw["top"], raw["width"], raw["height"]),
        hit=(float(hit[0]), float(hit[1])) if hit else None,
        text=str(raw.get("text") or ""),
        value=raw.get("value"),
        checked=bool(raw.get("checked")),
        selected=bool(raw.get("selected")),
        focused=bool(raw.get("focused")),
        id=str(raw.get("id") or ""),
        classes=str(raw.get("classes") or ""),
    )
