"""Images from someone else's folder: a decompression bomb or a device is an UnreadableImage, never a crash."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from qwen_gui_agent.agent.files.images import UnreadableImage, open_rgb


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (its pixel data is never reached)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("width, height", [(100_000, 100_000), (9_000, 9_000)], ids=["past Pillow's", "past ours"])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path: Path, width: int, height: int) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(width, height))
    with pytest.raises(UnreadableImage):
        open_rgb(bomb)


def test_not_an_image_and_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_text("hello")
    with pytest.raises(UnreadableImage, match="not a readable image"):
        open_rgb(tmp_path / "a.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    with pytest.raises(UnreadableImage, match="not a regular file"):
        open_rgb(tmp_path / "zero.png")
    with pytest.raises(FileNotFoundError):
        open_rgb(tmp_path / "missing.png")


def test_an_ordinary_screenshot_is_read_as_rgb(tmp_path: Path) -> None:
    Image.new("RGBA", (40, 30), (1, 2, 3, 4)).save(tmp_path / "s.png")
    image = open_rgb(tmp_path / "s.png")
    assert image.mode == "RGB" and image.size == (40, 30) and image.getpixel((0, 0)) == (1, 2, 3)
