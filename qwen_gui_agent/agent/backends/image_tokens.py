"""How many prompt tokens the images of a request cost a Qwen-family server.

A Qwen vision tower cuts an image into square patches (14 px for Qwen2.5-VL, 16 px for Qwen3-VL)
and merges each 2x2 block into one token, so an image whose sides are multiples of the patch
factor F (28 or 32; every frame-sized image is) costs (W / F) x (H / F) ``<|image_pad|>`` tokens,
between one ``<|vision_start|>`` and one ``<|vision_end|>``. The factor is the model family's
(tools/models.py), passed by whoever counts: counting a Qwen3-VL image at 28 is the bug that
stopped Qwen3-VL runs behind a standard server at step 1. Measured on ``transformers serve`` with
the tiny Qwen2.5-VL: 1316x728 costs 47 x 26 = 1,222 tokens, a 56x56 image 4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...tools.messages import Message

IMAGE_MARKERS = 2  # <|vision_start|> and <|vision_end|> around each image's tokens


def image_tokens(width: int, height: int, factor: int) -> int:
    """Merged patches of an image the server leaves at ``width`` x ``height`` (rounded as smart_resize does)."""
    return max(1, round(width / factor)) * max(1, round(height / factor))


def request_image_sizes(messages: Sequence[Message]) -> list[tuple[int, int]]:
    return [image.size for message in messages for image in message.images()]


def request_image_tokens(messages: Sequence[Message], factor: int) -> int:
    """Image tokens of every image in ``messages``, markers included."""
    return sum(image_tokens(*size, factor) + IMAGE_MARKERS for size in request_image_sizes(messages))


def request_text_chars(messages: Sequence[Message]) -> int:
    return sum(len(message.joined_text()) for message in messages)


def resized_frames(width: int, height: int, tokens: int, factor: int) -> list[tuple[int, int]]:
    """Every size smart_resize (at ``factor``) can turn a ``width`` x ``height`` image into at SOME server
    pixel bounds, that costs exactly ``tokens`` image tokens.

    Our images are already multiples of the factor inside our bounds, so a server resizes them only
    when its ``max_pixels`` is below their area (both sides scaled by 1/beta and floored to the
    factor) or its ``min_pixels`` above it (scaled by beta and ceiled), for some beta > 1. For each
    way of writing ``tokens`` as rows x columns this checks whether one beta gives both; usually
    exactly one does.
    """
    rows_now, cols_now = height / factor, width / factor
    found = []
    for rows in range(1, tokens + 1):
        if tokens % rows:
            continue
        cols = tokens // rows
        if _floored_by_one_beta(rows_now, cols_now, rows, cols) or _ceiled_by_one_beta(rows_now, cols_now, rows, cols):
            found.append((cols * factor, rows * factor))
    return found


def _floored_by_one_beta(rows_now: float, cols_now: float, rows: int, cols: int) -> bool:
    """Is there beta > 1 with max(1, floor(rows_now / beta)) == rows and the same for columns?"""
    low, high = 1.0, math.inf  # beta must lie in (low, high]
    for now, target in ((rows_now, rows), (cols_now, cols)):
        # floor(now / beta) == target  <=>  now / (target + 1) < beta <= now / target  (target 1 also takes 0)
        low = max(low, now / (target + 1))
        if target > 1:
            high = min(high, now / target)
    return low < high


def _ceiled_by_one_beta(rows_now: float, cols_now: float, rows: int, cols: int) -> bool:
    """Is there beta > 1 with ceil(rows_now * beta) == rows and the same for columns?"""
    low, high = 1.0, math.inf
    for now, target in ((rows_now, rows), (cols_now, cols)):
        # ceil(now * beta) == target  <=>  (target - 1) / now < beta <= target / now
        low = max(low, (target - 1) / now)
        high = min(high, target / now)
    return low < high
