"""Did the server resize our screenshot? Read off its own token count, then map clicks in what it used.

The agent sends frame-sized images so a server's resize is the identity. A server whose
``max_pixels`` is below our frame's area (or ``min_pixels`` above it) resizes anyway, and the model
then answers in a frame we never recorded: every click lands in the wrong place.

The method. ``usage.prompt_tokens`` counts text and image tokens together, and the text count is
unknown without the server's tokenizer (its chat template, the system prompt it may add, how the
history renders). So the first time a request carries an image size not yet checked, the backend
sends a *twin*: the same body with every image swapped for the smallest square the model's own
preprocessor keeps as it is, and ``max_tokens: 1``. For Qwen2.5-VL that is 56x56 (its checkpoint's
min_pixels 3136): 4 tokens at factor 28; for Qwen3-VL 256x256 (min_pixels 65536): 64 tokens at
factor 32 (tools/models.py ``processor_frame``). The text, the template and the image markers are
byte for byte the same, so

    server image tokens = prompt_tokens(request) - prompt_tokens(twin) + twin tokens x images

exactly (no tokenizer estimate, no tolerance). Equal to our count at the model's factor
(image_tokens.py): the server kept the frame. Different: it resized, and ``resized_frames`` finds
which size smart_resize at the same factor and some server bound gives that many tokens. One size: the answers of this and later steps are read in it
(``Completion.seen_frame``; the session maps and notes it). None or several: the run stops with
``ServerResizedImage``, naming the bound to raise or lower. One twin per new image size: a run on
one screen pays one short extra request. A server that reports no usage cannot be checked; that is
recorded. Results go into the step record under ``serving``.

A constrained request (``--grammar``) bounds its points by the frame, so that frame must be known
before it is sent: then ``measure_first`` sends a one-token copy of the request (no constraint)
and its twin ahead of it, and the request itself is built in the frame they show.
"""

from __future__ import annotations

import base64
import copy
import io
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PIL import Image

from ....tools.messages import Message
from ....tools.models import processor_frame_for_factor
from ..base import BackendRequestError
from ..image_tokens import image_tokens, request_image_sizes, resized_frames

log = logging.getLogger(__name__)

Size = tuple[int, int]


def twin_side(factor: int) -> int:
    """The side of the smallest square the model's own preprocessor keeps as it is (56 at 28, 256 at 32)."""
    floor = processor_frame_for_factor(factor).min_pixels
    return math.ceil(math.sqrt(floor) / factor) * factor


class ServerResizedImage(BackendRequestError):
    """The server resized the screenshot to a size that cannot be inferred: clicks could not be mapped."""


def _twin_url(side: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (side, side), (128, 128, 128)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def twin_body(body: Mapping[str, Any], side: int) -> dict[str, Any]:
    """``body`` with every image replaced by a ``side`` x ``side`` one, asking for a single token."""
    twin = copy.deepcopy(dict(body))
    url = _twin_url(side)
    for message in twin.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    part["image_url"] = {"url": url}
    twin["max_tokens"] = 1
    return twin


class ServerFrameCheck:
    """What one server does to each image size, learned from its token counts (one per backend)."""

    def __init__(
        self, count_prompt_tokens: Callable[[dict[str, Any]], int | None], *, enabled: bool, base_url: str, factor: int
    ) -> None:
        self._count = count_prompt_tokens  # posts a body, returns the reply's usage.prompt_tokens
        self.enabled = enabled
        self.base_url = base_url
        self.factor = factor  # the model's patch factor: what every count here is made at
        self.twin_side = twin_side(factor)
        self._used: dict[Size, Size] = {}  # size we sent -> size the server used

    def server_frame_of(self, size: Size) -> Size:
        """The size the server is known to turn ``size`` into (``size`` itself when kept or not yet checked)."""
        return self._used.get(size, size)

    def check(
        self, messages: Sequence[Message], body: Mapping[str, Any], prompt_tokens: int | None
    ) -> tuple[Size | None, dict[str, Any]]:
        """The size the model saw the last image at (None: unknown), and what to record with the step."""
        sizes = request_image_sizes(messages)
        if not sizes:
            return None, {}
        record: dict[str, Any] = {
            "images": len(sizes),
            "image_tokens": sum(image_tokens(*size, self.factor) for size in sizes),
        }
        if not self.enabled:
            record["frame_check"] = "off"
            return None, record
        if any(size not in self._used for size in sizes):
            if prompt_tokens is None:
                record["frame_check"] = "unverified: the server reports no usage.prompt_tokens"
                log.warning("the server reports no prompt_tokens: whether it resized the screenshot is unknown")
                return None, record
            measured = self._measure(body, prompt_tokens, len(sizes))
            record["server_image_tokens"] = measured
            self._learn(sizes, measured)
        used = self._used[sizes[-1]]
        record["server_frame"] = list(used)
        record["frame_check"] = "kept" if used == sizes[-1] else "resized"
        return used, record

    def measure_first(self, messages: Sequence[Message], body: Mapping[str, Any]) -> dict[str, Any] | None:
        """Learn the server's frame for the images of a request not yet sent: ``body`` (without a constraint)
        asked for one token, then its twin. What to record with the step; None when nothing was measured
        (every size known, the check off, or no usage reported: the request is then checked as usual)."""
        sizes = request_image_sizes(messages)
        if not self.enabled or all(size in self._used for size in sizes):
            return None
        prompt_tokens = self._count({**body, "max_tokens": 1})
        if prompt_tokens is None:
            return None
        return self.check(messages, body, prompt_tokens)[1]

    def _measure(self, body: Mapping[str, Any], prompt_tokens: int, images: int) -> int:
        twin_tokens = self._count(twin_body(body, self.twin_side))
        if twin_tokens is None:
            raise ServerResizedImage(
                f"{self.base_url} reported prompt_tokens for the request but not for its "
                f"{self.twin_side}x{self.twin_side} twin",
                hint="run with --no-check-server-frame to skip the check on this server",
            )
        return prompt_tokens - twin_tokens + image_tokens(self.twin_side, self.twin_side, self.factor) * images

    def _learn(self, sizes: list[Size], measured: int) -> None:
        expected = sum(image_tokens(*size, self.factor) for size in sizes)
        if measured == expected:
            self._used.update({size: size for size in sizes})
            return
        distinct = set(sizes)
        width, height = sizes[-1]
        candidates = (
            resized_frames(width, height, measured // len(sizes), self.factor)
            if (len(distinct) == 1 and measured % len(sizes) == 0)
            else []
        )
        if len(candidates) == 1:
            self._used[sizes[-1]] = candidates[0]
            log.warning(
                "the server resized the %dx%d screenshot to %dx%d (%d image tokens, not %d): answers are read in %dx%d",
                width,
                height,
                *candidates[0],
                measured,
                expected,
                *candidates[0],
            )
            return
        raise ServerResizedImage(
            f"{self.base_url} resized the screenshot: it counted {measured} image tokens for "
            f"{len(sizes)} image(s) of {' and '.join(f'{w}x{h}' for w, h in sorted(distinct))}, which cost "
            f"{expected} unresized, and "
            + (f"{len(candidates)} sizes explain that count" if candidates else "no single resize explains that count")
            + ", so the model's points cannot be mapped onto the screen",
            hint=f"lower --max-pixels to the server's limit, or start the server with max_pixels of at least "
            f"{width * height} (vLLM: --mm-processor-kwargs '{{\"max_pixels\": {width * height}}}')",
        )
