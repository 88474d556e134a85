"""The report and replay of killed runs, labels beside a run, output paths and plain messages."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands import replay as replay_commands
from qwen_gui_agent.agent.records.run_files import ExecutedRecord, FrameRecord, GeometryRecord, StepRecord
from qwen_gui_agent.agent.report.page import write_report
from tests.agent.report.test_report_html import parse_page
from tests.support.adb_server import AdbServer
from tests.support.cli import single_group_app
from tests.support.run_builders import add_step, new_writer, screen_image, three_step_run


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    # Only the report/replay group: the other command groups are not this test's business.
    return single_group_app(replay_commands.register)


def invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, " ".join(result.output.split())


def kill(run: Path) -> None:
    """What SIGKILL leaves behind: run.json as it was while the run was going."""
    path = run / "run.json"
    info = json.loads(path.read_text(encoding="utf-8"))
    info.update(status="running", ended_at=None, message="")
    path.write_text(json.dumps(info), encoding="utf-8")


def page_text(path: Path) -> str:
    return " ".join(" ".join(parse_page(path).text).split())


def fact(text: str, name: str) -> str:
    """The value after a fact's name in the header table ("duration 2.7 s model ...")."""
    match = re.search(rf"\b{name} (\S+ \S+)", text)
    assert match, f"no {name} in {text[:400]}"
    return match.group(1)


# ----------------------------------------------------------------------------- killed runs


def test_replay_check_of_a_killed_run_says_it_never_finished(app, tmp_path: Path) -> None:
    finished = three_step_run(tmp_path / "finished")
    code, output = invoke(app, "replay", str(finished), "--check")
    assert code == 0 and "all steps match" in output and "did not finish" not in output, output
    killed = three_step_run(tmp_path / "killed")
    kill(killed)
    code, output = invoke(app, "replay", str(killed), "--check")
    assert code == 0, output  # the recorded steps still match: the exit code says only that
    assert "the run never finished: run.json still says 'running' (killed?)" in output
    assert "all steps match (the run did not finish: killed?)" in output


def test_report_of_a_killed_run_labels_it_and_times_it_to_its_last_step(tmp_path: Path) -> None:
    run = tmp_path / "killed"
    writer = new_writer(run)
    add_step(
        writer,
        1,
        image=screen_image(320, 200),
        geometry=GeometryRecord(width=320, height=200),
        frame=FrameRecord(width=308, height=196),
        actions=["wait()"],
    )
    writer.close()  # never updated: run.json says "running", with no ended_at, as after kill -9
    text = page_text(write_report(run))
    assert "did not finish (killed?)" in text
    # One step whose "total" is 900 ms (run_builders): the run lasted at least that long.
    duration = float(fact(text, "duration").split()[0])
    assert duration >= 0.9, text


def test_report_output_into_a_missing_directory_is_created(app, tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    target = tmp_path / "missing" / "dir" / "x.html"
    code, output = invoke(app, "report", str(run), "-o", str(target))
    assert code == 0, output
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(target.parent.glob("*.tmp"))


# ----------------------------------------------------------------------------- report labels


def test_phase_totals_list_total_last(tmp_path: Path) -> None:
    # A literal first step has no model phase, so "total" is met before "model" in recording order.
    run = tmp_path / "run"
    writer = new_writer(run)
    for index, timings in enumerate(
        [
            {"capture": 10.0, "execute": 30.0, "total": 45.0},
            {"capture": 10.0, "model": 800.0, "parse": 1.0, "execute": 30.0, "total": 850.0},
        ],
        start=1,
    ):
        writer.append(
            StepRecord(index=index, started_at=time.time(), kind="do" if index == 1 else "ai", timings_ms=timings)
        )
    writer.close()
    text = page_text(write_report(run))
    phases = text[text.index("time per phase") :]
    assert phases.index("capture:") < phases.index("execute:") < phases.index("total:")
    assert phases.index("model:") < phases.index("parse:") < phases.index("total:"), phases[:200]
    assert "total: 895 ms" in phases


def test_literal_steps_are_labelled_frame_and_model_steps_model_frame(tmp_path: Path) -> None:
    run = tmp_path / "run"
    writer = new_writer(run, device={"kind": "mobile", "name": "phone"})
    phone = GeometryRecord(width=1080, height=2400)
    add_step(
        writer,
        1,
        kind="do",
        image=screen_image(1080, 2400),
        geometry=phone,
        frame=FrameRecord(width=1080, height=2400),
        actions=["click(start_box='(540,1200)')"],
        executed=[ExecutedRecord(action="click(start_box='(540,1200)')", commands=["input tap 540 1200"])],
    )
    add_step(
        writer,
        2,
        image=screen_image(1080, 2400),
        geometry=phone,
        frame=FrameRecord(width=1092, height=2408),
        actions=["click(start_box='(546,1204)')"],
        executed=[ExecutedRecord(action="click(start_box='(540,1200)')", commands=["input tap 540 1200"])],
    )
    writer.close()
    text = page_text(write_report(run))
    assert "actions (frame 1080x2400)" in text and "model frame 1080x2400" not in text
    assert "actions (model frame 1092x2408)" in text


def test_assert_and_wait_for_rows_show_the_statement_and_the_verdict(tmp_path: Path) -> None:
    run = tmp_path / "run"
    writer = new_writer(run)
    geometry = GeometryRecord(width=320, height=200)
    for index, (kind, note) in enumerate(
        [
            ("wait_for", "no: the page has loaded"),
            ("wait_for", "yes: the page has loaded"),
            ("assert", "yes: the form is filled"),
        ],
        start=1,
    ):
        writer.append(
            StepRecord(
                index=index,
                started_at=time.time(),
                kind=kind,
                geometry=geometry,
                answer="yes" if note.startswith("yes") else "no",
                note=note,
            )
        )
    writer.close()
    page = parse_page(write_report(run))
    rows = [text.strip() for text in page.text if "→" in text]
    assert rows[:3] == ["the page has loaded → no", "the page has loaded → yes", "the form is filled → yes"]


# ----------------------------------------------------------------------------- plain messages for people


def test_report_warning_about_an_unplaceable_action_is_plain(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = tmp_path / "run"
    writer = new_writer(run)
    add_step(
        writer,
        1,
        image=screen_image(320, 200),
        geometry=GeometryRecord(width=320, height=200),
        frame=FrameRecord(width=308, height=196),
        actions=["hotkey(key='ctrl s')"],
        executed=[ExecutedRecord(action="hotkey(key='ctrl frobnicate')", commands=["hotkey ctrl frobnicate"])],
    )
    writer.close()
    with caplog.at_level(logging.WARNING, logger="qwen_gui_agent.agent.report.overlay"):
        write_report(run)
    [warning] = [record.getMessage() for record in caplog.records if "cannot place" in record.getMessage()]
    assert "unknown key 'frobnicate'; expected: key names such as" in warning, warning
    assert "Your answer could not be used" not in warning and "Value error" not in warning


def test_macro_refusal_on_a_phone_is_plain(app, tmp_path: Path) -> None:
    run = tmp_path / "desktop-run"
    writer = new_writer(run)
    add_step(
        writer,
        1,
        kind="do",
        image=screen_image(1280, 800),
        geometry=GeometryRecord(width=1280, height=800),
        frame=None,
        actions=["right_click(start_box='(100,100)')"],
        executed=[
            ExecutedRecord(action="right_click(start_box='(100,100)')", commands=["click x=100 y=100 button=right"])
        ],
    )
    writer.close()
    with AdbServer() as adb:
        env = {**os.environ, "ANDROID_ADB_SERVER_ADDRESS": "127.0.0.1", "ANDROID_ADB_SERVER_PORT": str(adb.port)}
        code, output = invoke(app, "replay", str(run), "--device", "android", "--dry-run", env=env)
    assert code == 1, output
    assert "the device cannot replay this run: right_click does not exist on an Android phone; expected:" in output
    assert "Your answer could not be used" not in output
