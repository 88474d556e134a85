"""Decoding what ``screencap`` sends, and the shell output about the screen.

``screencap`` without ``-p`` writes the framebuffer as is: a little-endian
header (width, height, pixel format, and on Android 9+ a fourth word, the
colour space) followed by width*height pixels. The header length is not
announced, so it is told apart by what is left once the pixels are counted.
"""

from __future__ import annotations

import io
import re
import struct

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import CaptureError

# Android PixelFormat constants -> bytes per pixel.
_BYTES_PER_PIXEL = {1: 4, 2: 4, 3: 3, 4: 2, 5: 4}
_PIL_RAW_MODES = {1: ("RGBA", "RGBA"), 2: ("RGBA", "RGBX"), 3: ("RGB", "RGB"), 5: ("RGBA", "BGRA")}
HEADER_SIZES = (12, 16)  # before / since Android 9 (colour space word)

ORIENTATIONS = ("portrait", "landscape", "reverse portrait", "reverse landscape")

_SCREENCAP_HINT = "check that the screen is on and unlocked (`adb shell input keyevent KEYCODE_WAKEUP`)"


def decode_raw(data: bytes) -> Image.Image:
    """An RGB image from ``screencap`` raw output, or CaptureError."""
    if len(data) < HEADER_SIZES[0]:
        raise CaptureError(f"raw screencap returned {len(data)} bytes", hint=_SCREENCAP_HINT)
    width, height, pixel_format = struct.unpack_from("<III", data)
    if pixel_format not in _BYTES_PER_PIXEL:
        raise CaptureError(f"raw screencap pixel format {pixel_format} is not supported", hint="use screencap='png'")
    pixel_bytes = width * height * _BYTES_PER_PIXEL[pixel_format]
    header = len(data) - pixel_bytes
    if width == 0 or height == 0 or header not in HEADER_SIZES:
        raise CaptureError(
            f"raw screencap size does not add up ({width}x{height}, format {pixel_format}, {len(data)} bytes)",
            hint="use screencap='png'",
        )
    body = data[header:]
    if pixel_format == 4:
        return _rgb565(body, width, height)
    mode, raw_mode = _PIL_RAW_MODES[pixel_format]
    return Image.frombuffer(mode, (width, height), body, "raw", raw_mode, 0, 1).convert("RGB")


def _rgb565(body: bytes, width: int, height: int) -> Image.Image:
    pixels = np.frombuffer(body, dtype="<u2").reshape(height, width).astype(np.uint32)
    red = (pixels >> 11) * 255 // 31
    green = ((pixels >> 5) & 0x3F) * 255 // 63
    blue = (pixels & 0x1F) * 255 // 31
    return Image.fromarray(np.stack([red, green, blue], axis=-1).astype(np.uint8), "RGB")


def decode_png(data: bytes) -> Image.Image:
    """An RGB image from ``screencap -p`` output, or CaptureError."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        excerpt = data[:80].decode("utf-8", errors="replace").strip()
        raise CaptureError(f"screencap -p did not return a PNG ({excerpt!r})", hint=_SCREENCAP_HINT) from error


def require_content(image: Image.Image) -> Image.Image:
    """CaptureError for an all-black capture (screen off, secure window, failed grab)."""
    # alpha_only=False: a pixel counts as lit when any band (alpha too) is non-zero, on images of any mode.
    if image.getbbox(alpha_only=False) is None:
        raise CaptureError(
            f"the screenshot ({image.width}x{image.height}) is completely black",
            hint="wake and unlock the screen; apps with FLAG_SECURE (banking, DRM video) cannot be captured",
        )
    return image


def parse_wm_size(output: str) -> tuple[int, int]:
    """(width, height) in the natural orientation from ``wm size``; an override wins."""
    sizes = dict(re.findall(r"(Physical|Override) size:\s*(\d+x\d+)", output))
    size = sizes.get("Override") or sizes.get("Physical")
    if size is None:
        raise CaptureError(f"unexpected `wm size` output: {output.strip()[:200]!r}")
    width, height = (int(part) for part in size.split("x"))
    return width, height


_ROTATION_PATTERNS = (
    re.compile(r"SurfaceOrientation:\s*(\d)"),
    re.compile(r"\borientation=(\d)"),
)


def parse_rotation(dumpsys_input: str) -> int:
    """Display rotation 0..3 (quarter turns) from ``dumpsys input``; 0 when not reported."""
    for pattern in _ROTATION_PATTERNS:
        match = pattern.search(dumpsys_input)
        if match:
            return int(match.group(1)) % 4
    return 0


def oriented_size(natural: tuple[int, int], rotation: int) -> tuple[int, int]:
    """Physical pixels as the user currently sees them."""
    width, height = natural
    return (height, width) if rotation % 2 else (width, height)
