"""`agent devices`, `agent screenshot` and `agent do` as a user runs them: subprocesses on their own X servers.

Each test that needs a display starts its own Xvfb (its own size, monitors or
DPI), which the in-process tests cannot do: pyautogui binds one display per
process. Android goes through the loopback adb server (tests/support/adb_server.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.support.adb_server import AdbServer
from tests.support.cli import run_agent
from tests.support.tk_app import TkApp
from tests.support.xvfb import VirtualMonitor, XvfbServer, XvfbUnavailable, start_xvfb

pytestmark = [pytest.mark.xvfb]


def agent(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_agent(args, env=env, timeout=timeout)


def without_display(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in ("DISPLAY", "WAYLAND_DISPLAY")}


@pytest.fixture(scope="module")
def adb() -> Iterator[AdbServer]:
    """A loopback adb server: `agent devices` always asks one, and a dead port would make adbutils
    spawn a real `adb start-server` daemon that outlives the test."""
    with AdbServer() as server:
        yield server


def adb_env(server: AdbServer, env: dict[str, str]) -> dict[str, str]:
    return {**env, "ANDROID_ADB_SERVER_ADDRESS": "127.0.0.1", "ANDROID_ADB_SERVER_PORT": str(server.port)}


@pytest.fixture
def hidpi_display() -> Iterator[XvfbServer]:
    try:
        with start_xvfb(1600, 1000, dpi=192) as server:
            yield server
    except XvfbUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture
def two_monitors() -> Iterator[XvfbServer]:
    """A 1440x700 X screen shown as two monitors: LEFT 800x600 at (0,0), primary; RIGHT 640x480 at (800,100)."""
    try:
        with start_xvfb(1440, 700) as server:
            server.set_monitors(
                [VirtualMonitor("LEFT", 0, 0, 800, 600, primary=True), VirtualMonitor("RIGHT", 800, 100, 640, 480)]
            )
            yield server
    except XvfbUnavailable as error:
        pytest.skip(str(error))


def listed_monitors(env: dict[str, str]) -> list[dict]:
    result = agent("devices", "--json", env=env)
    assert result.returncode == 0, result.stderr
    entries = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return [entry for entry in entries if entry["kind"] == "desktop"]


def test_devices_lists_monitors_with_their_origins(two_monitors: XvfbServer, adb: AdbServer) -> None:
    monitors = listed_monitors(adb_env(adb, two_monitors.env()))
    by_origin = {tuple(m["details"]["origin"]): m for m in monitors if m["available"]}
    assert by_origin[(800, 100)]["details"]["width"] == 640 and by_origin[(800, 100)]["details"]["scale"] == 1.0
    assert by_origin[(0, 0)]["details"]["primary"] in (True, False)
    assert any(m["details"]["primary"] and m["details"]["width"] == 800 for m in monitors)


def test_do_clicks_on_a_second_monitor_from_screenshot_and_model_frames(
    two_monitors: XvfbServer, adb: AdbServer, tmp_path: Path
) -> None:
    env = adb_env(adb, two_monitors.env())
    right = next(m for m in listed_monitors(env) if m["details"]["origin"] == [800, 100])
    app = TkApp(env, tmp_path / "state.json", x=820, y=130)
    try:
        ax, ay = app.centre("alpha")
        # Screenshot pixels of the right monitor: its origin is (800,100) on the X screen.
        result = agent("do", f"click(start_box='({ax - 800},{ay - 100})')", "--device", right["spec"], env=env)
        assert result.returncode == 0, result.stderr
        assert f"click x={ax} y={ay} button=left" in result.stdout
        app.wait_for(lambda s: s["clicks"]["alpha"] == 1, what="Alpha clicked on the second monitor")
        # A model frame of half the size: the model's numbers are halved, the click lands on the same widget.
        bx, by = app.centre("beta")
        half = f"click(start_box='({(bx - 800) // 2},{(by - 100) // 2})')"
        result = agent("do", half, "--device", right["spec"], "--frame", "320x240", "--json", env=env)
        assert result.returncode == 0, result.stderr
        sent = json.loads(result.stdout)["commands"][0]
        x, y = (int(part.split("=")[1]) for part in sent.split()[1:3])
        assert abs(x - bx) <= 2 and abs(y - by) <= 2
        app.wait_for(lambda s: s["clicks"]["beta"] == 1, what="Beta clicked from a model frame")
    finally:
        app.close()


def test_screenshot_saves_the_chosen_monitor(two_monitors: XvfbServer, adb: AdbServer, tmp_path: Path) -> None:
    env = adb_env(adb, two_monitors.env())
    right = next(m for m in listed_monitors(env) if m["details"]["origin"] == [800, 100])
    output = tmp_path / "right.png"
    result = agent("screenshot", "--device", right["spec"], "-o", str(output), env=env)
    assert result.returncode == 0, result.stderr
    assert "origin (800,100)" in result.stdout
    with Image.open(output) as image:
        assert image.size == (640, 480)
    primary = tmp_path / "primary.png"
    assert agent("screenshot", "-o", str(primary), env=env).returncode == 0  # default: the primary monitor
    with Image.open(primary) as image:
        assert image.size == (800, 600)


def test_high_dpi_x_server_still_clicks_in_physical_pixels(hidpi_display: XvfbServer, tmp_path: Path) -> None:
    """X11 has one coordinate space: at 192 dpi Tk draws bigger widgets, input stays in pixels (scale 1)."""
    env = hidpi_display.env()
    app = TkApp(env, tmp_path / "state.json", x=30, y=30)
    try:
        assert app.state()["widgets"]["alpha"]["height"] > 40  # Tk scaled its widgets up for the DPI
        ax, ay = app.centre("alpha")
        relative = f"click(start_box='({round(ax * 1000 / 1599)},{round(ay * 1000 / 999)})')"
        result = agent("do", relative, "--relative", "--json", env=env)
        assert result.returncode == 0, result.stderr
        app.wait_for(lambda s: s["clicks"]["alpha"] == 1, what="Alpha clicked at 192 dpi")
    finally:
        app.close()


def test_dry_run_plans_without_touching_the_app(two_monitors: XvfbServer, tmp_path: Path) -> None:
    env = two_monitors.env()
    app = TkApp(env, tmp_path / "state.json", x=20, y=20)
    try:
        ax, ay = app.centre("alpha")
        result = agent("do", f"click(start_box='({ax},{ay})')", "--dry-run", env=env)
        assert result.returncode == 0, result.stderr
        assert f"would send: click x={ax} y={ay} button=left" in result.stdout
        assert app.state()["clicks"]["alpha"] == 0
    finally:
        app.close()


def test_bad_action_text_exits_2_with_the_reason() -> None:
    result = agent("do", "clack(start_box='(1,2)')", env=without_display(dict(os.environ)))
    assert result.returncode == 2
    assert "bad action" in result.stderr and "clack" in result.stderr


def test_point_off_the_screen_and_phone_actions_exit_2(two_monitors: XvfbServer) -> None:
    env = two_monitors.env()
    off = agent("do", "click(start_box='(5000,10)')", env=env)
    assert off.returncode == 2 and "outside the screen" in off.stderr
    phone = agent("do", "press_back()", env=env)
    assert phone.returncode == 2 and "phone action" in phone.stderr


def test_off_screen_message_names_the_real_screen_size_in_plain_words(two_monitors: XvfbServer) -> None:
    """The primary monitor is 800x600: its frame runs 0..800 (the far edge is the last pixel), so 801 is off it."""
    result = agent("do", "click(start_box='(801,600)')", env=two_monitors.env())
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "x in 0..800 and y in 0..600 (the screen is 800x600)" in message, message
    assert "Your answer could not be used" not in message  # model-facing framing stays with the model


def test_bad_hotkey_says_once_what_is_wrong() -> None:
    result = agent("do", "hotkey(key='ctrl foo')", env=without_display(dict(os.environ)))
    assert result.returncode == 2
    message = " ".join(result.stderr.split())
    assert "bad action: unknown key 'foo'; expected: key names such as ctrl" in message, message
    assert "Value error" not in message and "Your answer could not be used" not in message


@pytest.mark.parametrize("where", ["flag", "env"])
def test_bad_unicode_input_lists_the_choices_and_exits_2(where: str) -> None:
    env = without_display(dict(os.environ))
    args = ["do", "--dry-run", "click(start_box='(1,2)')"]
    if where == "flag":
        args += ["--unicode-input", "bogus"]
    else:
        env["AGENT_DESKTOP_UNICODE_INPUT"] = "bogus"
    result = agent(*args, env=env)
    assert result.returncode == 2
    message = " ".join(result.stderr.replace("│", " ").split())
    assert (
        "--unicode-input (env AGENT_DESKTOP_UNICODE_INPUT): 'bogus' is not a choice; use 'clipboard' or "
        "'xdotool'" in message
    ), message
    assert "pydantic" not in message and "literal_error" not in message


def test_no_display_is_exit_1_with_the_fix() -> None:
    env = without_display(dict(os.environ))
    result = agent("do", "click(start_box='(1,2)')", env=env)
    assert result.returncode == 1
    assert "DISPLAY is not set" in result.stderr and "xvfb-run" in result.stderr
    assert "Traceback" not in result.stderr
    wayland = agent("screenshot", "-o", "/dev/null", env={**env, "WAYLAND_DISPLAY": "wayland-0"})
    assert wayland.returncode == 1 and "XWayland" in wayland.stderr


def test_devices_without_display_says_so(adb: AdbServer) -> None:
    result = agent("devices", env=adb_env(adb, without_display(dict(os.environ))))
    assert result.returncode == 0, result.stderr
    desktop_line = next(line for line in result.stdout.splitlines() if line.startswith("desktop"))
    assert "unavailable" in desktop_line and "DISPLAY is not set" in desktop_line
    assert "android:emulator-5554" in result.stdout


def test_android_through_the_loopback_adb_server(tmp_path: Path) -> None:
    """The device flags reach the Android driver: ANDROID_ADB_SERVER_ADDRESS/PORT as adb reads them."""
    with AdbServer() as server:
        env = adb_env(server, without_display(dict(os.environ)))
        listed = agent("devices", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        phones = [json.loads(line) for line in listed.stdout.splitlines() if '"android' in line]
        phone = next(p for p in phones if p["available"])
        assert phone["spec"] == "android:emulator-5554" and "Pixel_7" in phone["summary"]
        assert "360x800" in phone["summary"] and "portrait" in phone["summary"]
        shot = tmp_path / "phone.png"
        assert agent("screenshot", "--device", "android", "-o", str(shot), env=env).returncode == 0
        with Image.open(shot) as image:
            assert image.size == (360, 800)
        tapped = agent("do", "click(start_box='(100,200)')", "--device", "android:emulator-5554", env=env)
        assert tapped.returncode == 0, tapped.stderr
        assert any(command.startswith("input tap 100 200") for command in server.commands)
