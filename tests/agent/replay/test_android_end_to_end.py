"""`agent run` on Android end to end, then `agent replay --check` on the run it recorded.

Real parts only: the `agent` CLI as a subprocess, adbutils talking over a real
socket to the loopback adb server (tests/support/adb_server.py) that holds a
virtual 1080x2400 phone, and the openai backend talking HTTP to the loopback
model server (tests/support/model_server.py) playing a scripted model in each
dialect.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone
from tests.support.cli import run_agent
from tests.support.model_server import ModelServer

MAX_PIXELS = 16384 * 28 * 28
FRAME = ModelFrame.for_screen(
    1080, 2400, FrameBounds(max_pixels=MAX_PIXELS)
)  # 1092x2408: screen px * 1092/1080, * 2408/2400
ADB_KEYBOARD = "com.android.adbkeyboard/.AdbIME"
TEXT = "wifi 密码"


def model(x: int, y: int) -> tuple[int, int]:
    mx, my = x * FRAME.width / 1080, y * FRAME.height / 2400
    assert mx.is_integer() and my.is_integer(), "pick screen points that map exactly"
    return int(mx), int(my)


def qwen_call(**arguments: object) -> str:
    return (
        "<tool_call>\n"
        + json.dumps({"name": "mobile_use", "arguments": arguments}, ensure_ascii=False)
        + "\n</tool_call>"
    )


QWEN_ANSWERS = [
    qwen_call(action="open", text="Settings"),
    qwen_call(action="click", coordinate=list(model(540, 1200))),
    qwen_call(action="swipe", coordinate=list(model(540, 1800)), coordinate2=list(model(540, 600))),
    qwen_call(action="type", text=TEXT),
    qwen_call(action="system_button", button="Back"),
    qwen_call(action="terminate", status="success"),
]

UITARS_ANSWERS = [
    "Thought: open the settings app\nAction: open_app(app_name='Settings')",
    "Thought: tap the network row\nAction: click(start_box='({},{})')".format(*model(540, 1200)),
    "Thought: move the list up\nAction: drag(start_box='({},{})', end_box='({},{})')".format(
        *model(540, 1800), *model(540, 600)
    ),
    f"Thought: search for it\nAction: type(content='{TEXT}')",
    "Thought: close the keyboard\nAction: press_back()",
    "Thought: wifi is on\nAction: finished(content='wifi is on')",
]

EXPECTED_INPUT = [
    "monkey -p com.android.settings -c android.intent.category.LAUNCHER 1",
    "input tap 540 1200",
    "input swipe 540 1800 540 600 {swipe_ms}",
    f"ime enable {ADB_KEYBOARD}",
    f"ime set {ADB_KEYBOARD}",
    "am broadcast -a ADB_INPUT_B64 --es msg " + base64.b64encode(TEXT.encode()).decode(),
    # then the user's own keyboard comes back, and ADBKeyboard is disabled again (checked below)
    f"ime disable {ADB_KEYBOARD}",
    "input keyevent KEYCODE_BACK",
]
ACTING = ("input ", "monkey ", "am broadcast", "ime enable", "ime set", "ime disable")


def agent(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_agent(args, env=env, timeout=180)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dialect", "answers", "swipe_ms"),
    [
        ("qwen", QWEN_ANSWERS, 300),  # mobile_use swipe: our Swipe's default 0.3 s
        ("uitars", UITARS_ANSWERS, 500),  # drag with a start runs as a swipe of the Drag's default 0.5 s
    ],
)
def test_agent_run_on_android_then_replay_check(
    tmp_path: Path, dialect: str, answers: list[str], swipe_ms: int
) -> None:
    phone = VirtualPhone(size=(1080, 2400))
    previous_ime = phone.current_ime
    with AdbServer([phone]) as adb, ModelServer() as model_server:
        model_server.push(*answers)
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb.port), "AGENT_API_KEY": "test-key"}
        env.pop("ANDROID_SERIAL", None)
        result = agent(
            [
                "run",
                "turn on wifi",
                "--device",
                "android",
                "--backend",
                "openai",
                "--base-url",
                model_server.base_url,
                "--model",
                "Qwen/Qwen2.5-VL-7B-Instruct",
                "--dialect",
                dialect,
                "--max-pixels",
                str(MAX_PIXELS),
                "--settle",
                "0",
                "--out",
                str(tmp_path / "runs"),
            ],
            env,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        acting = [command for command in phone.commands if command.startswith(ACTING)]
        requests = model_server.requests

    # The exact shell commands the phone got, in order.
    restore = f"ime set {previous_ime}"
    expected = [command.format(swipe_ms=swipe_ms) for command in EXPECTED_INPUT]
    assert acting == expected[:6] + [restore] + expected[6:]
    assert phone.text.endswith(TEXT) and phone.current_ime == previous_ime
    # The model saw the screen at the frame's exact size, once per step.
    assert len(requests) == 6
    assert requests[0].images()[-1].size == (FRAME.width, FRAME.height)

    (run_dir,) = (tmp_path / "runs").iterdir()
    run = load_run(run_dir)
    assert (run.info.status, run.info.dialect, run.info.device["kind"]) == ("success", dialect, "mobile")
    assert len(run.steps) == 6 and not run.truncated
    assert all((run_dir / step.screenshot).is_file() for step in run.steps)
    assert all(step.frame is not None and (step.frame.width, step.frame.height) == (1092, 2408) for step in run.steps)
    recorded = [command for step in run.steps for executed in step.executed for command in executed.commands]
    assert recorded == acting  # the record says exactly what the device was told
    assert (run_dir / "report.html").is_file()

    junit = tmp_path / "replay.xml"
    replay = agent(["replay", str(run_dir), "--check", "--junit", str(junit)], {**os.environ})
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert 'failures="0"' in junit.read_text(encoding="utf-8")

    # The same run as a macro on a smaller phone: every point keeps its place relative to the screen.
    small = VirtualPhone(serial="small-phone", size=(720, 1600))
    with AdbServer([small]) as adb:
        env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(adb.port)}
        macro = agent(["replay", str(run_dir), "--device", "android", "--delay", "0"], env)
        assert macro.returncode == 0, macro.stdout + macro.stderr
        replayed = [command for command in small.commands if command.startswith(ACTING)]
    assert replayed[:3] == [expected[0], "input tap 360 800", f"input swipe 360 1200 360 400 {swipe_ms}"]
    assert replayed[-1] == "input keyevent KEYCODE_BACK" and expected[5] in replayed
    assert small.text.endswith(TEXT)
