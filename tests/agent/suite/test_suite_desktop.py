"""A suite on two Xvfb displays at once (desktop::D, driven with xdotool), scripted models, the real CLI."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.agent.suite.suite_files import (
    by_task,
    case_kinds,
    clicks,
    junit,
    only_suite_dir,
    read_suite,
    run_json,
    steps,
    write_task,
)
from tests.support.e2e import agent_env, run_agent, xvfb_or_skip
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.fixture(scope="module")
def first() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(800, 600)


@pytest.fixture(scope="module")
def second() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


def pointer(display: XvfbServer) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env=display.env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return int(fields["X"]), int(fields["Y"])


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href" and value]


def test_a_suite_runs_on_two_displays_at_once(first: XvfbServer, second: XvfbServer, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    write_task(tasks, "alpha", clicks((100, 100), (300, 200)))
    write_task(tasks, "beta", clicks((50, 60)))
    write_task(tasks, "gamma", clicks((120, 80), (130, 90), finish=False), max_steps=1)  # runs out of steps
    write_task(tasks, "delta", clicks((400, 300)))
    devices = f"desktop:{first.display},desktop:{second.display}"

    result = run_agent(
        [str(tasks), "--device", devices, "--settle", "0", "--out", str(tmp_path / "out")],
        agent_env(first.env()),
        timeout=300,
        cwd=tmp_path,
    )

    assert result.returncode == 1, result.stderr  # one task failed
    suite_dir = only_suite_dir(tmp_path / "out")
    suite = read_suite(suite_dir)
    entries = by_task(suite)
    assert {name: entry["status"] for name, entry in entries.items()} == {
        "alpha": "success",
        "beta": "success",
        "gamma": "budget",
        "delta": "success",
    }
    assert suite["devices"] == [f"desktop::{first.number}", f"desktop::{second.number}"]
    assert suite["parallel"] == 2 and suite["counts"] == {"success": 3, "budget": 1}
    sizes = {f"desktop::{first.number}": (800, 600), f"desktop::{second.number}": (640, 480)}
    used = {entry["device"] for entry in entries.values()}
    assert used == set(sizes)  # both displays worked
    last_click: dict[str, tuple[float, tuple[int, int]]] = {}
    for entry in entries.values():
        record = run_json(entry["run_dir"])
        assert record["device"]["name"] == entry["device"]
        assert (record["device"]["width"], record["device"]["height"]) == sizes[entry["device"]]
        assert Path(entry["run_dir"]).parent.parent == suite_dir
        for step in steps(entry["run_dir"]):
            for executed in step["executed"]:
                x, y = map(int, re.search(r"x=(\d+) y=(\d+)", executed["commands"][0]).groups())
                if step["started_at"] > last_click.get(entry["device"], (0.0, (0, 0)))[0]:
                    last_click[entry["device"]] = (step["started_at"], (x, y))
    # Each X server's own pointer sits where the last task on it clicked: the clicks went to that display.
    assert pointer(first) == last_click[f"desktop::{first.number}"][1]
    assert pointer(second) == last_click[f"desktop::{second.number}"][1]

    testsuite, cases = junit(suite_dir)
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("errors")) == ("4", "1", "0")
    assert case_kinds(cases) == {"alpha": "passed", "beta": "passed", "gamma": "failure", "delta": "passed"}
    assert next(c for c in cases if c.get("classname") == "suite.gamma").find("failure").get("type") == "budget"

    links = _Links()
    links.feed((suite_dir / "index.html").read_text(encoding="utf-8"))
    reports = [href for href in links.hrefs if href.endswith("report.html")]
    assert len(reports) == 4 and all((suite_dir / href).is_file() for href in reports)
    assert "suite.json" in links.hrefs and "junit.xml" in links.hrefs
    assert "gamma" in result.stdout and "budget" in result.stdout  # the console table
