"""report.html from recorded runs: self-contained, escaped, markers in the right places, robust to kills."""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qwen_gui_agent.agent.cli import build_app
from qwen_gui_agent.agent.records.run_files import ErrorRecord, ExecutedRecord, FrameRecord, GeometryRecord, load_run
from qwen_gui_agent.agent.report.page import REPORT_FILE, ReportSettings, embed_image, write_report
from tests.support.run_builders import add_step, new_writer, screen_image, three_step_run

VOID_ELEMENTS = {"meta", "img", "br", "input", "link", "hr", "circle", "line", "polygon"}


class _Page(HTMLParser):
    """Collects tags, attributes and text, and checks that every opened element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    assert page.problems == [] and page.stack == [], (page.problems, page.stack)
    return page


def markers(page: _Page) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in page.tags if tag == "g" and "marker" in (attrs.get("class") or "")]


def test_report_is_self_contained_and_shows_every_step(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    path = write_report(run)
    assert path == run / REPORT_FILE
    html = path.read_text(encoding="utf-8")
    page = parse_page(path)
    # Nothing is fetched from elsewhere: every src/href is a data URL or an in-page anchor.
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value[:60])
    assert not re.search(r"https?://", html)
    assert "<script" not in html and "<link" not in html
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 3
    text = " ".join(page.text)
    for expected in (
        "sort the files by name",
        "open the menu",
        "click x=640 y=400 button=left",
        "drag(start_box='(150,120)', end_box='(644,406)')",
        "finished(content='sorted')",
        "sorted",
        "1288x812",
        "1501 in / 21 out",
    ):
        assert expected in text, expected
    assert "success" in text


def test_embedded_screenshots_are_downscaled_images(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "big")
    geometry = GeometryRecord(width=3840, height=2160)
    add_step(
        writer,
        1,
        image=screen_image(3840, 2160, ((100, 100, 900, 500),)),
        geometry=geometry,
        frame=FrameRecord(width=3836, height=2156),
        actions=["click(start_box='(1918,1078)')"],
        executed=[
            ExecutedRecord(action="click(start_box='(1920,1080)')", commands=["click x=1920 y=1080 button=left"])
        ],
    )
    writer.close()
    page = parse_page(write_report(tmp_path / "big", settings=ReportSettings(max_width=640)))
    (src,) = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    header, data = src.split(",", 1)
    assert header in ("data:image/jpeg;base64", "data:image/png;base64")
    image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert image.size == (640, 360)
    phone = embed_image(Image.new("RGB", (1080, 2400), "white"), ReportSettings())
    assert (phone.width, phone.height) == (576, 1280)  # portrait: the height limit applies
    # The overlay keeps the capture's own pixel space, so markers stay put whatever the downscale.
    (svg,) = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert svg["viewbox"] == "0 0 3840 2160"


def test_model_text_is_escaped(tmp_path: Path) -> None:
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    writer = new_writer(tmp_path / "evil", task=f"task {evil}")
    add_step(
        writer,
        1,
        image=screen_image(640, 480),
        geometry=GeometryRecord(width=640, height=480),
        frame=FrameRecord(width=644, height=476),
        answer=f"Thought: {evil}\nAction: nonsense",
        thought=evil,
        error=ErrorRecord(kind="parse", message=f"bad answer {evil}"),
        feedback=f"fix it {evil}",
    )
    writer.update(status="failure", message=evil)
    writer.close()
    path = write_report(tmp_path / "evil")
    html = path.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    page = parse_page(path)
    assert [tag for tag, _ in page.tags if tag == "img"] == ["img"]  # the screenshot, not the model's <img>
    text = "".join(page.text)
    assert text.count("<script>alert('x')</script>") >= 5  # task, thought, answer, error, feedback, outcome


def test_markers_are_drawn_where_the_actions_landed(tmp_path: Path) -> None:
    page = parse_page(write_report(three_step_run(tmp_path / "run")))
    found = markers(page)
    click = next(m for m in found if "marker-click" in m["class"])
    # (644,406) in the 1288x812 frame is (640,400) on the 1280x800 screenshot.
    assert (float(click["data-x"]), float(click["data-y"])) == pytest.approx((640.0, 400.0), abs=0.1)
    drag = next(m for m in found if "marker-drag" in m["class"])
    assert float(drag["data-x"]) == pytest.approx(150 * 1280 / 1288, abs=0.1)
    assert (float(drag["data-end-x"]), float(drag["data-end-y"])) == pytest.approx((640.0, 400.0), abs=0.1)
    assert len(found) == 2  # finished() draws nothing


def test_markers_from_executed_actions_undo_scale_and_origin(tmp_path: Path) -> None:
    # Only the device's side was recorded: a 2x HiDPI monitor whose input frame starts at (1920, 0).
    writer = new_writer(tmp_path / "hidpi")
    geometry = GeometryRecord(width=2880, height=1800, scale=2.0, origin_x=1920, origin_y=0)
    add_step(
        writer,
        1,
        image=screen_image(2880, 1800),
        geometry=geometry,
        frame=None,
        kind="do",
        executed=[
            ExecutedRecord(action="right_click(start_box='(2020,300)')", commands=[]),
            ExecutedRecord(action="scroll(start_box='(2100,400)', direction='up')", commands=[]),
        ],
    )
    writer.close()
    found = markers(parse_page(write_report(tmp_path / "hidpi")))
    right, scroll = found
    assert "marker-right_click" in right["class"]
    assert (float(right["data-x"]), float(right["data-y"])) == (200.0, 600.0)
    assert (float(scroll["data-x"]), float(scroll["data-y"]), scroll["data-direction"]) == (360.0, 800.0, "up")


def test_truncated_run_reports_up_to_its_last_complete_step(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    steps = run / "steps.jsonl"
    text = steps.read_text(encoding="utf-8")
    steps.write_text(text[: len(text) - 40], encoding="utf-8")  # the last line cut mid-write
    assert load_run(run).truncated
    page = parse_page(write_report(run))
    body = " ".join(page.text)
    assert "cut off" in body
    assert len([tag for tag, _ in page.tags if tag == "section"]) == 2


_KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from tests.support.run_builders import add_step, new_writer, screen_image
    from qwen_gui_agent.agent.records.run_files import GeometryRecord, FrameRecord, ExecutedRecord
    writer = new_writer(Path(sys.argv[1]))
    image = screen_image(320, 240)
    for index in range(1, 10_000):
        add_step(writer, index, image=image, geometry=GeometryRecord(width=320, height=240),
                 frame=FrameRecord(width=308, height=224), actions=["click(start_box='(10,10)')"],
                 executed=[ExecutedRecord(action="click(start_box='(10,11)')", commands=["click x=10 y=11 button=left"])],
                 answer="x" * 20000)
        print(index, flush=True)
""")


def test_run_killed_with_sigkill_still_reports(tmp_path: Path) -> None:
    run = tmp_path / "killed"
    root = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(run), str(root)], stdout=subprocess.PIPE, text=True
    )
    try:
        for _ in range(3):  # let it write a few whole steps, then kill it wherever it is
            assert process.stdout.readline()
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        process.stdout.close()
    recorded = load_run(run)
    assert recorded.info.status == "running" and len(recorded.steps) >= 3
    page = parse_page(write_report(run))
    assert len([tag for tag, _ in page.tags if tag == "section"]) == len(recorded.steps)
    assert "never recorded an end" in " ".join(page.text)


def test_missing_screenshot_file_is_reported_without_image(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    (run / "step-0002.png").unlink()
    page = parse_page(write_report(run))
    assert len([tag for tag, _ in page.tags if tag == "img"]) == 2
    assert "no screenshot recorded" in " ".join(page.text)


def test_agent_report_command(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(build_app(), ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / REPORT_FILE).is_file()
    other = tmp_path / "elsewhere.html"
    result = runner.invoke(build_app(), ["report", str(run), "-o", str(other)])
    assert result.exit_code == 0, result.output
    assert other.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    result = runner.invoke(build_app(), ["report", str(tmp_path / "nothing-here")])
    assert result.exit_code == 2
    assert "not a recorded run" in result.output


def test_report_of_a_run_with_no_steps(tmp_path: Path) -> None:
    writer = new_writer(tmp_path / "empty")
    writer.update(status="error", message="the device was not there", ended_at=time.time())
    writer.close()
    body = " ".join(parse_page(write_report(tmp_path / "empty")).text)
    assert "No step was recorded" in body and "the device was not there" in body
