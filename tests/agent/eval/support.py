"""Helpers of the eval tests: invoking ``agent eval`` in-process, scripted answers for drawn items, HTML checks."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.tools.frames import RELATIVE_SCALE, FrameBounds, ModelFrame
from tests.support.make_grounding_set import DrawnItem

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def agent_eval(*args: str | Path, env: dict[str, str] | None = None):
    """``agent eval ...`` in-process, with no AGENT_* variable of the test machine leaking in (``env`` adds some)."""
    clean = {"AGENT_BACKEND": "", "AGENT_MODEL": "", "AGENT_MAX_PIXELS": "", "AGENT_SCRIPT": ""}
    return CliRunner().invoke(build_app(), ["eval", *map(str, args)], env={**clean, **(env or {})})


def file_order(items: list[DrawnItem]) -> list[DrawnItem]:
    """The order the eval asks in: annotation files sorted by name, items in file order."""
    return sorted(items, key=lambda item: (Path(item.file).name, item.index))


def model_point(
    screen_point: tuple[int, int], size: tuple[int, int], max_pixels: int, relative: bool
) -> tuple[int, int]:
    """Where a model answering in ``frame`` would put a screenshot point (rounded)."""
    frame = ModelFrame.for_screen(*size, FrameBounds(max_pixels=max_pixels))
    extent_x, extent_y = (RELATIVE_SCALE, RELATIVE_SCALE) if relative else (frame.width, frame.height)
    return round(screen_point[0] * extent_x / size[0]), round(screen_point[1] * extent_y / size[1])


def outside_point(item: DrawnItem) -> tuple[int, int]:
    """A point well clear of the item's box (above or below it, at its centre's x)."""
    x1, y1, x2, y2 = item.box
    y = y1 - 40 if y1 > 60 else y2 + 40
    return (x1 + x2) // 2, y


def write_script(path: Path, answers: list[str]) -> Path:
    path.write_text(json.dumps(answers), encoding="utf-8")
    return path


class WellFormed(HTMLParser):
    """Fails on an end tag that closes something other than the innermost open element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:] or 'nothing'}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(path: Path) -> WellFormed:
    parser = WellFormed()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser
