"""One ms-swift training row from one recorded model step: the messages the model saw, and its answer.

ms-swift's dataset format (``{"messages": [...], "images": [...], "objects": {...}}``)
marks each image's place with ``<image>`` in the text and joins consecutive
messages of one role by plain concatenation. Our dialects can send two user
turns in a row (uitars: the instruction, then the first screenshot), which the
chat template renders as two ChatML turns; the export writes that turn break
into the text itself, so ms-swift's template encodes the same tokens as our
local backend sent. Earlier answers in the prompt are kept, marked
``"loss": false``: the model learns only the step's own answer, marked ``"loss": true``. Every
answer carries the key so every row has one shape: ms-swift reads a ``.jsonl`` file with
``datasets``, which fixes the columns from the file's first block and refuses a later row whose
messages hold a key the first block's did not (a qwen run's rows, then a uitars run's history).

Grounding rows (``tap`` steps) use ms-swift's ``objects`` form: the query as
``<ref-object>``, the located box or point as ``<bbox>`` in the image's own
pixels (``bbox_type`` real), so ms-swift rescales it when it resizes the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ...tools.actions import Action, DeviceKind
from ...tools.canonical import format_action
from ...tools.dialects.base import Dialect, GroundingHit
from ...tools.errors import ActionParseError
from ...tools.frames import RELATIVE_SCALE, ModelFrame
from ...tools.messages import Message

IMAGE_TAG = "<image>"
REF_TAG = "<ref-object>"
BBOX_TAG = "<bbox>"
# Text ms-swift reads as placeholders; a prompt that holds one literally cannot be exported faithfully.
SWIFT_TAGS = ("<image>", "<video>", "<audio>", "<bbox>", "<ref-object>", "<cot-process>", "<start-image>")
# The ChatML text between two user turns, as Qwen2.5-VL's chat template renders it.
USER_TURN_BREAK = "<|im_end|>\n<|im_start|>user\n"
PATCH_SIDE = 28  # one image token per 28x28 pixels (14-pixel patches merged 2x2)

# Names UI-TARS writes where our canonical text differs.
_UITARS_NAMES = {"double_click(": "left_double(", "right_click(": "right_single("}

# A step record's ``serving`` key for a mistake planted on purpose in a demonstration (the MiniWoB++
# reference policy's ``--misses``): the export keeps such a step as history and learns no answer from it.
DELIBERATE_MISS = "deliberate_miss"


class RowError(ValueError):
    """A step whose prompt or answer cannot be written as a faithful training row (says why)."""


@dataclass(frozen=True)
class SwiftRow:
    messages: tuple[dict[str, Any], ...]
    images: tuple[Image.Image, ...]  # in the order of the <image> tags
    objects: dict[str, Any] | None = None

    def token_estimate(self) -> int:
        """An upper bound of the row's length in tokens: one per 28x28 patch, one per text character."""
        image_tokens = sum((image.width // PATCH_SIDE) * (image.height // PATCH_SIDE) + 2 for image in self.images)
        return image_tokens + sum(len(message["content"]) for message in self.messages) + 8 * len(self.messages)

    def to_json(self, image_paths: Sequence[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"messages": list(self.messages), "images": list(image_paths)}
        if self.objects is not None:
            row["objects"] = self.objects
        return row


def conversation(messages: Sequence[Message]) -> tuple[list[dict[str, Any]], list[Image.Image]]:
    """Our messages as ms-swift messages (``<image>`` in place, consecutive user turns joined) and the images."""
    rows: list[dict[str, Any]] = []
    images: list[Image.Image] = []
    for message in messages:
        text = ""
        for part in message.parts:
            if isinstance(part, Image.Image):
                text += IMAGE_TAG
                images.append(part)
            else:
                _refuse_tags(part)
                text += part
        if rows and rows[-1]["role"] == message.role == "user":
            rows[-1]["content"] += USER_TURN_BREAK + text
            continue
        if rows and rows[-1]["role"] == message.role:
            raise RowError(f"two {message.role} messages in a row cannot be written for ms-swift")
        row: dict[str, Any] = {"role": message.role, "content": text}
        if message.role == "assistant":
            row["loss"] = False  # an earlier answer: context, not a target
        rows.append(row)
    return rows, images


def action_row(messages: Sequence[Message], answer: str) -> SwiftRow:
    """The prompt of an ``ai`` step and the answer to learn (the recorded one, or a correction)."""
    rows, images = conversation(messages)
    if not rows or rows[-1]["role"] != "user":
        raise RowError("the prompt does not end with a user turn")
    _refuse_tags(answer)
    rows.append({"role": "assistant", "content": answer, "loss": True})
    return SwiftRow(messages=tuple(rows), images=tuple(images))


def grounding_row(
    messages: Sequence[Message], query: str, hit: GroundingHit, frame: ModelFrame, answer_form: Callable[[bool], str]
) -> SwiftRow:
    """A ``tap`` step's grounding query with its query as ``<ref-object>`` and the hit as ``<bbox>``.

    ``answer_form(is_box)`` is the dialect's answer with the tags in place (see ``grounding_answer``).
    """
    rows, images = conversation(messages)
    if len(images) != 1 or rows[-1]["role"] != "user":
        raise RowError("a grounding prompt holds one screenshot in one user turn")
    if not query or rows[-1]["content"].count(query) != 1:
        raise RowError("the grounding query is not found once in its prompt")
    rows[-1]["content"] = rows[-1]["content"].replace(query, REF_TAG)
    location = list(hit.box) if hit.box is not None else [hit.point.x, hit.point.y]
    answer = answer_form(hit.box is not None)
    refs = [query] * answer.count(REF_TAG)
    rows.append({"role": "assistant", "content": answer, "loss": True})
    objects = {"ref": [query, *refs], "bbox": [_in_image_pixels(location, frame)], "bbox_type": "real"}
    return SwiftRow(messages=tuple(rows), images=tuple(images), objects=objects)


def grounding_answer(dialect_name: str) -> Callable[[bool], str]:
    """The dialect's grounding answer with the tags in place (ms-swift writes them out with QWENVL_BBOX_FORMAT=new:
    ``<bbox>`` as ``[x1, y1, x2, y2]``, ``<ref-object>`` as the text)."""
    if dialect_name == "qwen":
        return lambda is_box: f'[{{"{"bbox_2d" if is_box else "point_2d"}": {BBOX_TAG}, "label": "{REF_TAG}"}}]'
    return lambda _is_box: BBOX_TAG


def _in_image_pixels(values: Sequence[float], frame: ModelFrame) -> list[float]:
    """A location from the model frame in pixels of the frame-sized image (0..1000 frames are scaled)."""
    if not frame.relative:
        return [_plain(value) for value in values]
    sizes = (frame.width, frame.height) * (len(values) // 2)
    return [_plain(value * size / RELATIVE_SCALE) for value, size in zip(values, sizes, strict=True)]


def _plain(value: float) -> float:
    """Always a float (``120.0``), so every row of grounding.jsonl has one number type: datasets fixes it from
    the file's first block, and int64 there refuses a later 154.31. ms-swift rounds each to a whole pixel."""
    return round(float(value), 2)


def _refuse_tags(text: str) -> None:
    for tag in SWIFT_TAGS:
        if tag in text:
            raise RowError(f"the text holds {tag!r}, which ms-swift would read as a placeholder")


def answer_for(dialect: Dialect, actions: Sequence[Action], thought: str, device: DeviceKind, frame: ModelFrame) -> str:
    """A corrected action written as the run's dialect answers, checked to parse back to the same action.

    The text is the answer as the agent receives it from the model, which is what the run's other steps
    hold and what later prompts repeat as history: UI-TARS's points are ``start_box='(x,y)'``, because the
    ``<|box_start|>``/``<|box_end|>`` its prompt shows are tokens the tokenizer marks special, so a server
    (and the local backend) detokenizing with ``skip_special_tokens`` drops them from every answer."""
    if dialect.name == "qwen":
        calls = "\n".join(_qwen_call(dialect, action, device) for action in actions)
        answer = f"{thought}\n{calls}" if thought else calls
    else:
        calls = "\n\n".join(_uitars_call(action) for action in actions)
        answer = f"Thought: {thought}\nAction: {calls}" if thought else f"Action: {calls}"
    try:
        parsed = dialect.parse(answer, frame)
    except ActionParseError as error:
        raise RowError(f"the corrected action does not read back in the {dialect.name} dialect: {error}") from None
    if [format_action(a) for a in parsed.actions] != [format_action(a) for a in actions]:
        raise RowError(
            f"the corrected action reads back as {'; '.join(format_action(a) for a in parsed.actions)} "
            f"in the {dialect.name} dialect"
        )
    return answer


def _qwen_call(dialect: Dialect, action: Action, device: DeviceKind) -> str:
    call = dialect.format_call(action, device)  # type: ignore[attr-defined]
    if call.startswith("{"):
        return f"<tool_call>\n{call}\n</tool_call>"
    # Qwen's function has no such action (or drops part of it): the UI-TARS form, which the qwen parser reads too.
    return f"Action: {call}"


def _uitars_call(action: Action) -> str:
    text = format_action(action)
    for ours, theirs in _UITARS_NAMES.items():
        if text.startswith(ours):
            text = theirs + text[len(ours) :]
    return text
