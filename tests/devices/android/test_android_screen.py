"""Screenshots: raw headers old and new, pixel formats, PNG, orientation, black captures."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from qwen_gui_agent.devices.android.device import AndroidDevice, AndroidSettings, open_android
from qwen_gui_agent.devices.android.screen import decode_png, decode_raw, parse_rotation, parse_wm_size, require_content
from qwen_gui_agent.devices.errors import CaptureError
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import pattern_screen


def random_image(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, "RGB")


def raw(image: Image.Image, pixel_format: int, header: int) -> bytes:
    rgb = np.asarray(image)
    alpha = np.full(rgb.shape[:2] + (1,), 255, dtype=np.uint8)
    body = {
        1: lambda: np.concatenate([rgb, alpha], axis=-1).tobytes(),
        2: lambda: np.concatenate([rgb, alpha * 0], axis=-1).tobytes(),
        3: lambda: rgb.tobytes(),
        5: lambda: np.concatenate([rgb[..., ::-1], alpha], axis=-1).tobytes(),
    }[pixel_format]()
    prefix = struct.pack("<III", image.width, image.height, pixel_format)
    return prefix + (struct.pack("<I", 0) if header == 16 else b"") + body


@pytest.mark.parametrize("header", [12, 16])
@pytest.mark.parametrize("pixel_format", [1, 2, 3, 5])
def test_decode_raw_headers_and_formats(header: int, pixel_format: int) -> None:
    image = random_image(37, 53, seed=pixel_format)
    decoded = decode_raw(raw(image, pixel_format, header))
    assert decoded.mode == "RGB" and decoded.size == (37, 53)
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_decode_raw_rgb565() -> None:
    # Pure red, pure green, pure blue, white: 5-6-5 bits, red in the high bits.
    values = [0xF800, 0x07E0, 0x001F, 0xFFFF]
    data = struct.pack("<III", 2, 2, 4) + struct.pack("<I", 0) + struct.pack("<4H", *values)
    decoded = decode_raw(data)
    assert np.asarray(decoded).reshape(-1, 3).tolist() == [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x01\x02", struct.pack("<III", 10, 10, 1) + b"\x00" * 399, struct.pack("<III", 10, 10, 99) + b"\x00" * 400],
)
def test_decode_raw_refuses_what_does_not_add_up(data: bytes) -> None:
    with pytest.raises(CaptureError):
        decode_raw(data)


def test_decode_png_and_garbage() -> None:
    image = random_image(20, 10)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    assert np.array_equal(np.asarray(decode_png(buffer.getvalue())), np.asarray(image))
    with pytest.raises(CaptureError, match="did not return a PNG"):
        decode_png(b"/system/bin/sh: screencap: inaccessible or not found\n")


def test_black_is_an_error_and_one_lit_pixel_is_not() -> None:
    black = Image.new("RGB", (50, 50))
    with pytest.raises(CaptureError, match="black"):
        require_content(black)
    black.putpixel((49, 49), (0, 0, 1))
    assert require_content(black) is black


def test_screen_text_parsing() -> None:
    assert parse_wm_size("Physical size: 1080x2400\n") == (1080, 2400)
    assert parse_wm_size("Physical size: 1440x3120\nOverride size: 1080x2340\n") == (1080, 2340)
    with pytest.raises(CaptureError):
        parse_wm_size("cmd: Can't find service: window")
    assert parse_rotation("  Device 1: touch\n    SurfaceOrientation: 3\n") == 3
    assert parse_rotation("Viewport INTERNAL: displayId=0, orientation=1, logicalFrame=[0, 0, 2400, 1080]") == 1
    assert parse_rotation("nothing here") == 0


# --- through the adb server -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [12, 16])
def test_screenshot_portrait_raw(device: AndroidDevice, adb_server: AdbServer, header: int) -> None:
    adb_server.phone.raw_header = header
    adb_server.screen = random_image(360, 800, seed=header)
    shot = device.screenshot()
    assert np.array_equal(np.asarray(shot.image), np.asarray(adb_server.screen))
    geometry = shot.geometry
    assert (geometry.width, geometry.height, geometry.scale, geometry.origin_x, geometry.origin_y) == (
        360,
        800,
        1,
        0,
        0,
    )
    assert adb_server.requests[-1] == "exec:screencap"  # exec-out, raw, no PNG encode on the phone
    assert shot.capture_ms > 0


def test_screenshot_landscape(device: AndroidDevice, adb_server: AdbServer) -> None:
    phone = adb_server.phone
    phone.screen = pattern_screen((360, 800))
    phone.set_rotation(1)
    shot = device.screenshot()
    assert shot.image.size == (800, 360)
    assert np.array_equal(np.asarray(shot.image), np.asarray(phone.screen))
    assert device.screen_size() == (800, 360)
    assert device.describe()["orientation"] == "landscape"


def test_screen_size_without_a_capture_asks_the_device(device: AndroidDevice, adb_server: AdbServer) -> None:
    adb_server.phone.set_rotation(3)
    assert device.screen_size() == (800, 360)
    assert "wm size" in adb_server.commands and "dumpsys input" in adb_server.commands


def test_png_mode(adb_server: AdbServer, settings: AndroidSettings) -> None:
    adb_server.screen = random_image(360, 800, seed=5)
    with open_android(None, settings.model_copy(update={"screencap": "png"})) as device:
        shot = device.screenshot()
    assert np.array_equal(np.asarray(shot.image), np.asarray(adb_server.screen))
    assert adb_server.requests[-1] == "exec:screencap -p"


def test_unreadable_raw_falls_back_to_png_for_good(device: AndroidDevice, adb_server: AdbServer) -> None:
    adb_server.phone.raw_capture_broken = True
    first = device.screenshot()
    second = device.screenshot()
    assert first.image.size == second.image.size == (360, 800)
    assert adb_server.commands == ["screencap", "screencap -p", "screencap -p"]


def test_black_capture_is_a_capture_error(device: AndroidDevice, adb_server: AdbServer) -> None:
    adb_server.screen = Image.new("RGB", (360, 800))
    with pytest.raises(CaptureError, match="black") as caught:
        device.screenshot()
    assert "unlock" in caught.value.hint
