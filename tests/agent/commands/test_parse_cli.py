"""``agent parse``: through typer's CliRunner and once as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands import parse as parse_command
from tests.support.cli import AGENT_COMMAND, single_group_app


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    # Only this command group: other groups are not this test's business.
    return single_group_app(parse_command.register)


def run(app: typer.Typer, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["parse", *args], input=stdin)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_uitars_click_on_a_hidpi_secondary_monitor(app):
    # 3840x2160 at 2x, left of the primary: frame 3836x2156 (smart_resize), input = px / 2 + origin.
    result = run(
        app,
        "Thought: ok\nAction: click(start_box='(1918,1078)')",
        "--dialect",
        "uitars",
        "--screen",
        "3840x2160",
        "--scale",
        "2",
        "--origin",
        "-1920,0",
    )
    assert result.exit_code == 0, result.output
    [record] = lines(result.stdout)
    assert record["action"] == "click" and record["text"] == "click(start_box='(1918,1078)')"
    assert (record["x"], record["y"]) == (-1920 + 960, 540)


def test_qwen_drag_from_stdin_with_a_serving_cap(app):
    answer = '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click_drag", "coordinate": [658, 364]}}</tool_call>'
    result = run(app, "-", "--screen", "1920x1080", "--max-pixels", str(1280 * 28 * 28), stdin=answer)
    assert result.exit_code == 0, result.output
    [record] = lines(result.stdout)
    assert record["action"] == "drag" and (record["end_x"], record["end_y"]) == (960, 540)
    assert "x" not in record  # the drag starts wherever the pointer is


def test_several_actions_relative_coordinates_and_a_given_frame(app):
    answer = "Action: swipe(start_box='(500,900)', end_box='(500,100)')\n\ntype(content='你好\\n')"
    result = run(
        app,
        answer,
        "--dialect",
        "uitars",
        "--screen",
        "1080x2400",
        "--coords",
        "relative",
        "--frame",
        "1092x2408",
        "--device",
        "mobile",
    )
    assert result.exit_code == 0, result.output
    swipe, typed = lines(result.stdout)
    assert (swipe["x"], swipe["y"], swipe["end_x"], swipe["end_y"]) == (540, 2160, 540, 240)
    assert typed == {
        "action": "type",
        "text": "type(content='你好\\n')",
        "frame": "1092x2408",
        "input_text": "type(content='你好\\n')",
    }


@pytest.mark.parametrize(
    ("cap", "frame", "x"),
    [
        ([], "1932x1092", 954),  # parse's default cap: the model's own 16384*28*28
        (["--max-pixels", "1280*28*28"], "1316x728", 1401),  # what `agent run` uses, as an expression ...
        (["--max-pixels", "1003520"], "1316x728", 1401),  # ... or as a number
    ],
)
def test_each_line_says_which_frame_it_read_the_answer_in(app, cap, frame, x):
    result = run(app, "Action: click(start_box='(960,540)')", "--dialect", "uitars", "--screen", "1920x1080", *cap)
    assert result.exit_code == 0, result.output
    [record] = lines(result.stdout)
    assert record["frame"] == frame and record["x"] == x


def test_a_bad_pixel_expression_exits_2(app):
    result = run(app, "Action: wait()", "--dialect", "uitars", "--screen", "1920x1080", "--max-pixels", "1280*28*")
    assert result.exit_code == 2 and "not a pixel count" in " ".join(result.output.replace("│", " ").split())


@pytest.mark.parametrize("device", ["mobile", "android", "android:emulator-5554"])
def test_a_desktop_only_action_for_a_phone_is_refused_as_the_phone_would(app, device):
    result = run(
        app, "Action: right_single(start_box='(10,10)')", "--dialect", "uitars", "--screen", "1080x2400", "-d", device
    )
    assert result.exit_code == 2 and result.stdout == ""
    assert "not a mobile action" in result.stderr and "right_click does not exist on an Android phone" in result.stderr


def test_a_phone_only_action_for_a_computer_is_refused(app):
    result = run(app, "Action: press_back()", "--dialect", "uitars", "--screen", "1920x1080", "--device", "desktop")
    assert result.exit_code == 2
    assert "not a computer action" in result.stderr and "phone action" in result.stderr


def test_an_app_label_only_a_live_phone_can_resolve_is_a_note(app):
    result = run(
        app, "Action: open_app(app_name='Frobnicator')", "--dialect", "uitars", "--screen", "1080x2400", "-d", "mobile"
    )
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)[0]["action"] == "open_app"
    assert "note: a live device may refuse open_app" in result.stderr


def test_short_d_means_device_as_in_every_other_command(app):
    assert run(app, "Action: wait()", "--screen", "100x100", "-d", "uitars").exit_code == 2  # not a dialect any more
    assert run(app, "Action: wait()", "--screen", "100x100", "-d", "mobile", "--dialect", "uitars").exit_code == 0


@pytest.mark.parametrize("answer", ["Action: click(start_box='(5000,1)')", "no action here", "Action: fly()"])
def test_parse_errors_exit_2_with_the_message_and_no_traceback(app, answer):
    result = run(app, answer, "--dialect", "uitars", "--screen", "1920x1080")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Your answer could not be used" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--screen", "1920"],
        ["--screen", "1920x1080", "--origin", "a,b"],
        ["--screen", "1920x1080", "--frame", "100x100", "--max-pixels", "1000"],
        ["--screen", "1920x1080", "--scale", "0"],
    ],
)
def test_bad_options_exit_2(app, args):
    result = run(app, "Action: wait()", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_real_subprocess():
    entry = shutil.which("agent")
    command = [entry] if entry else list(AGENT_COMMAND)
    answer = '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [966, 546]}}</tool_call>'
    done = subprocess.run(
        [*command, "parse", answer, "--screen", "1920x1080"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    [record] = lines(done.stdout)
    assert record["action"] == "click" and (record["x"], record["y"]) == (960, 540)
    failed = subprocess.run(
        [*command, "parse", "nonsense", "--screen", "1920x1080"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failed.returncode == 2 and "parse error" in failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.parametrize(
    "dialect, answer",
    [
        (
            "qwen",
            '<tool_call>{"name": "computer_use", "arguments": {"action": "scroll", "coordinate": [10, 10], '
            '"pixels": 1' + "0" * 400 + "}}</tool_call>",
        ),
        ("uitars", "Action: scroll(start_box='(10,10)', direction='down', amount=1" + "0" * 400 + ")"),
        (
            "qwen",
            '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": '
            + "[" * 976
            + "10, 10"
            + "]" * 976
            + "}}</tool_call>",
        ),
    ],
    ids=["qwen 401-digit pixels", "uitars 401-digit amount", "qwen coordinate 976 deep"],
)
def test_a_huge_number_or_deep_nesting_is_a_parse_error_not_a_traceback(app, dialect, answer):
    # Issue 16, item 3: `agent parse` showed an OverflowError / RecursionError traceback for these.
    result = run(app, answer, "--dialect", dialect, "--screen", "1920x1080")
    assert result.exit_code == 2 and result.stdout == "", result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert result.stderr.startswith("parse error: Your answer could not be used")
