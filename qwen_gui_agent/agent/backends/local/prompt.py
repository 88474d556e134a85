"""Our neutral messages as the transformers chat template wants them, and the frame the model saw."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ....tools.messages import Message


def chat_template_messages(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Our neutral messages as transformers chat messages (image placeholders in place) plus the images in order."""
    chat: list[dict[str, Any]] = []
    images: list[Any] = []
    for message in messages:
        if not message.images():
            chat.append({"role": message.role, "content": message.joined_text()})
            continue
        content: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            else:
                content.append({"type": "image"})
                images.append(part)
        chat.append({"role": message.role, "content": content})
    return chat, images


def seen_frame(image_grid_thw: Any, patch_size: int) -> tuple[int, int] | None:
    """(width, height) of the last image as the vision tower saw it: its patch grid times the patch size."""
    if image_grid_thw is None or len(image_grid_thw) == 0:
        return None
    _, grid_h, grid_w = (int(value) for value in image_grid_thw[-1])
    return grid_w * patch_size, grid_h * patch_size
