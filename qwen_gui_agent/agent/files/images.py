"""Screenshots and data-set images from files someone else made, refused before they can hurt.

A PNG of a few kilobytes can claim 100,000 x 100,000 pixels and expand to 30 GB (a decompression
bomb): Pillow raises ``DecompressionBombError`` (not an ``OSError``) past twice its own limit and
only warns below that. ``open_rgb`` reads only a regular file, checks the pixel count the header
claims against a cap before decoding, and turns every way an image can be unreadable into
``UnreadableImage`` (an ``OSError``), so one bad image costs one item or one step, never the run.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from .reading import MIB, FileRefused, open_regular

MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # an 8K screen is 33 M; ScreenSpot-Pro's largest about 20 M
MAX_IMAGE_BYTES = 256 * MIB


class UnreadableImage(OSError):
    """Not a regular file, not an image, or an image larger than the cap: the message says which."""


def open_rgb(path: Path | str, *, max_pixels: int = MAX_IMAGE_PIXELS, max_bytes: int = MAX_IMAGE_BYTES) -> Image.Image:
    """The image at ``path`` decoded as RGB; UnreadableImage (FileNotFoundError when missing) otherwise."""
    path = Path(path)
    try:
        with open_regular(path, max_bytes) as stream, Image.open(stream) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise UnreadableImage(
                    f"{path} claims {width}x{height} pixels, more than the {max_pixels:,} "
                    "an image may have here (a decompression bomb?)"
                )
            return image.convert("RGB")
    except FileNotFoundError:
        raise
    except FileRefused as error:
        raise UnreadableImage(str(error)) from None
    except Image.DecompressionBombError as error:
        raise UnreadableImage(f"{path}: {error}") from None
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError) as error:
        if isinstance(error, UnreadableImage):
            raise
        raise UnreadableImage(f"{path} is not a readable image ({type(error).__name__}: {error})") from None
