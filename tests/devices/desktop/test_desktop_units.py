"""Capture geometry, monitor choice, display diagnosis, clipboard tool choice, device specs, CLI settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from qwen_gui_agent.agent.commands.device_options import (
    DeviceFlags,
    android_settings_for_cli,
    desktop_settings_for_cli,
    resolve_spec,
)
from qwen_gui_agent.devices import DeviceSpec, parse_device_spec
from qwen_gui_agent.devices.desktop.capture import (
    MonitorInfo,
    bgra_to_image,
    choose_region,
    detect_geometry,
    display_problem,
)
from qwen_gui_agent.devices.desktop.clipboard import XCLIP, XSEL, find_clipboard_tool
from qwen_gui_agent.devices.desktop.settings import DesktopSettings, Region
from qwen_gui_agent.devices.errors import DeviceNotFound, MissingDependency
from qwen_gui_agent.tools.actions import Point
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, to_input_point

REPO = Path(__file__).resolve().parents[3]

MONITORS = [
    MonitorInfo(0, Region(left=0, top=0, width=3200, height=1080)),
    MonitorInfo(1, Region(left=1280, top=0, width=1920, height=1080), primary=True, name="DP-1"),
    MonitorInfo(2, Region(left=0, top=200, width=1280, height=720), name="HDMI-1"),
]


def test_default_is_the_primary_monitor_even_when_mss_lists_it_second() -> None:
    region, name = choose_region(MONITORS[:1] + MONITORS[2:] + MONITORS[1:2], DesktopSettings(platform="x11"))
    assert region == MONITORS[1].region and "monitor 1" in name


def test_monitor_by_number_and_region_override() -> None:
    assert choose_region(MONITORS, DesktopSettings(monitor=2))[0] == MONITORS[2].region
    assert choose_region(MONITORS, DesktopSettings(monitor=0))[0] == MONITORS[0].region
    custom = Region(left=5, top=6, width=70, height=80)
    assert choose_region(MONITORS, DesktopSettings(monitor=2, region=custom)) == (custom, "region 70x80+5+6")


def test_missing_monitor_names_the_ones_there_are() -> None:
    with pytest.raises(DeviceNotFound) as caught:
        choose_region(MONITORS, DesktopSettings(monitor=7))
    assert "no monitor 7" in str(caught.value) and "1920x1080+1280+0" in caught.value.hint


def test_x11_geometry_is_physical_pixels_at_the_monitor_origin() -> None:
    geometry = detect_geometry(MONITORS[2].region, (1280, 720), DesktopSettings(platform="x11"))
    assert (geometry.scale, geometry.origin_x, geometry.origin_y) == (1.0, 0, 200)


def test_macos_retina_scale_is_capture_over_points() -> None:
    points = Region(left=-1440, top=0, width=1440, height=900)
    geometry = detect_geometry(points, (2880, 1800), DesktopSettings(platform="macos"))
    assert (geometry.width, geometry.scale, geometry.origin_x) == (2880, 2.0, -1440)
    # The model's centre of a 2x screen left of the primary is that screen's centre in points.
    frame = ModelFrame.for_screen(2880, 1800, FrameBounds(max_pixels=1280 * 28 * 28))
    centre = Point(x=frame.width // 2, y=frame.height // 2)
    assert to_input_point(centre, frame, geometry) == Point(x=-1440 + 720, y=450)


def test_overrides_win_over_detection() -> None:
    settings = DesktopSettings(platform="macos", scale=1.5, origin=(10, 20))
    geometry = detect_geometry(Region(left=0, top=0, width=100, height=100), (200, 200), settings)
    assert (geometry.scale, geometry.origin_x, geometry.origin_y) == (1.5, 10, 20)


@given(st.integers(1, 40), st.integers(1, 40), st.binary(min_size=4, max_size=4))
def test_bgra_buffer_becomes_rgb(width: int, height: int, pixel: bytes) -> None:
    blue, green, red, _ = pixel
    image = bgra_to_image(bytearray(pixel * (width * height)), (width, height))
    assert image.mode == "RGB" and image.size == (width, height)
    assert image.getpixel((width - 1, height - 1)) == (red, green, blue)


def test_no_display_is_a_clear_error() -> None:
    problem = display_problem("x11", {})
    assert isinstance(problem, MissingDependency)
    assert "DISPLAY is not set" in str(problem) and "xvfb-run" in problem.hint


def test_wayland_without_xwayland_is_named() -> None:
    problem = display_problem("x11", {"WAYLAND_DISPLAY": "wayland-0"})
    assert problem is not None and "Wayland" in str(problem) and "XWayland" in problem.hint


def test_display_present_or_not_x11_is_fine() -> None:
    assert display_problem("x11", {"DISPLAY": ":0"}) is None
    assert display_problem("macos", {}) is None


def test_clipboard_tool_choice() -> None:
    assert find_clipboard_tool("x11", lambda name: f"/usr/bin/{name}") == XCLIP
    assert find_clipboard_tool("x11", lambda name: "/usr/bin/xsel" if name == "xsel" else None) == XSEL
    with pytest.raises(MissingDependency) as caught:
        find_clipboard_tool("x11", lambda name: None)
    assert "apt-get install xclip" in caught.value.hint and "xdotool" in caught.value.hint
    with pytest.raises(MissingDependency):
        find_clipboard_tool("windows", lambda name: None)


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("desktop", DeviceSpec("desktop")),
        ("desktop:2", DeviceSpec("desktop", monitor=2)),
        ("android", DeviceSpec("android")),
        ("android:emulator-5554", DeviceSpec("android", serial="emulator-5554")),
        ("android:192.168.1.7:5555", DeviceSpec("android", serial="192.168.1.7:5555")),
    ],
)
def test_device_specs(spec: str, parsed: DeviceSpec) -> None:
    assert parse_device_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["desktop:left", "phone", ""])
def test_bad_device_specs(spec: str) -> None:
    with pytest.raises(DeviceNotFound, match="desktop:N"):
        parse_device_spec(spec)


def test_cli_settings_flag_then_environment_then_default() -> None:
    environ = {
        "AGENT_DESKTOP_MONITOR": "2",
        "AGENT_DESKTOP_SCALE": "2",
        "AGENT_DESKTOP_FAILSAFE": "0",
        "AGENT_DESKTOP_REGION": "800x600+1920+0",
        "AGENT_DESKTOP_ORIGIN": "100,50",
        "AGENT_DEVICE": "desktop:2",
    }
    from_env = desktop_settings_for_cli(DeviceFlags(), environ)
    assert (from_env.monitor, from_env.scale, from_env.failsafe, from_env.origin) == (2, 2.0, False, (100, 50))
    assert from_env.region == Region(left=1920, top=0, width=800, height=600)
    flagged = desktop_settings_for_cli(DeviceFlags(monitor=1, scale=1.0, failsafe=True), environ)
    assert (flagged.monitor, flagged.scale, flagged.failsafe) == (1, 1.0, True)
    default = desktop_settings_for_cli(DeviceFlags(), {})
    assert (default.monitor, default.scale, default.failsafe, default.region) == (None, None, True, None)
    assert resolve_spec(DeviceFlags(), environ) == "desktop:2"
    assert resolve_spec(DeviceFlags(device="android"), environ) == "android"
    assert resolve_spec(DeviceFlags(), {}) == "desktop"


@pytest.mark.parametrize(
    "environ",
    [
        {"AGENT_DESKTOP_SCALE": "big"},
        {"AGENT_DESKTOP_REGION": "huge"},
        {"AGENT_DESKTOP_FAILSAFE": "maybe"},
        {"AGENT_DESKTOP_UNICODE_INPUT": "morse"},
    ],
)
def test_bad_environment_values_are_usage_errors(environ: dict[str, str]) -> None:
    with pytest.raises(typer.BadParameter):
        desktop_settings_for_cli(DeviceFlags(), environ)


def test_adb_server_address_is_read_the_way_adb_reads_it() -> None:
    environ = {"ANDROID_ADB_SERVER_ADDRESS": "10.0.0.5", "ANDROID_ADB_SERVER_PORT": "5999", "ANDROID_SERIAL": "abc"}
    settings = android_settings_for_cli(DeviceFlags(), environ)
    assert (settings.adb_host, settings.adb_port, settings.serial) == ("10.0.0.5", 5999, "abc")
    flagged = android_settings_for_cli(DeviceFlags(adb_host="127.0.0.1", adb_port=6000), environ)
    assert (flagged.adb_host, flagged.adb_port) == ("127.0.0.1", 6000)


def test_importing_devices_needs_no_display_and_loads_no_display_library() -> None:
    code = (
        "import sys, qwen_gui_agent.devices, qwen_gui_agent.devices.desktop.device, qwen_gui_agent.devices.desktop.pyautogui_input\n"
        "import qwen_gui_agent.agent.commands.device\n"
        "heavy = sorted(m for m in ('pyautogui', 'mss', 'adbutils', 'Xlib', 'torch') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
