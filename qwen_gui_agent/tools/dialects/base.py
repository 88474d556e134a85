"""A dialect: how one model family is prompted and how its answer is read."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from ..actions import Action, DeviceKind, Point
from ..errors import ActionParseError
from ..frames import RELATIVE_SCALE, ModelFrame
from ..messages import Message

MAX_ANSWER_CHARS = 8_000  # longer answers are runaway generations; the bound keeps every parse under ~5 ms
Coordinates = Literal["absolute", "relative"]
# Tags an answer holds a few of. Hundreds are a runaway generation, and each one is a place where pattern
# matching starts over: refused by count before any pattern runs, so parse time stays linear in the answer.
REPEATABLE_TAGS = ("<|box_start|>", "<|box_end|>", "<point>", "<bbox>", "<tool_call>", "<|object_ref_start|>")
MAX_TAG_REPEATS = 32


def check_answer_size(answer: str, expected: str) -> str:
    """Refuse an empty or runaway answer before any parser reads it."""
    if not isinstance(answer, str) or not answer.strip():
        raise ActionParseError("the answer is empty", expected=expected)
    if len(answer) > MAX_ANSWER_CHARS:
        raise ActionParseError(f"the answer is longer than {MAX_ANSWER_CHARS} characters", expected=expected)
    for tag in REPEATABLE_TAGS:
        if answer.count(tag) > MAX_TAG_REPEATS:
            raise ActionParseError(f"the answer repeats {tag} more than {MAX_TAG_REPEATS} times", expected=expected)
    return answer


@dataclass(frozen=True)
class HistoryStep:
    """One earlier step as the prompt shows it.

    ``image`` is the screenshot of that step already resized to the frame, or
    None when the agent keeps only text for it. ``answer`` is the model's raw
    answer; ``action_text`` the canonical text of what was done; ``feedback``
    what the agent told the model afterwards (a parse error, a user's reply).
    """

    answer: str
    action_text: str = ""
    image: Image.Image | None = None
    feedback: str = ""


@dataclass(frozen=True)
class PromptContext:
    task: str
    frame: ModelFrame
    device: DeviceKind = "computer"
    language: str = "English"  # the language the model writes its thoughts in


@dataclass(frozen=True)
class ParsedAnswer:
    """What an answer says: an optional thought and one or more actions (model frame)."""

    actions: tuple[Action, ...]
    thought: str = ""


@dataclass(frozen=True)
class GroundingHit:
    """One object located by a "find X" query, in the model frame."""

    point: Point
    label: str = ""
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class DialectInfo:
    name: str
    # How many recent screenshots the prompt carries as images (the current one included).
    default_image_history: int = 1
    aliases: tuple[str, ...] = field(default_factory=tuple)


class Dialect(ABC):
    """Prompt builder + parser for one model family.

    Parsers accept the other dialect's forms too (models drift) and raise
    ``ActionParseError`` for anything unusable, including points outside the frame.
    """

    info: DialectInfo
    # True when answers are thousandths on both axes: the agent builds
    # ModelFrame(..., relative=dialect.relative, relative_scale=dialect.relative_scale) from them.
    relative: bool = False
    default_coordinates: Coordinates = "absolute"
    relative_scale: int = RELATIVE_SCALE  # what the far edge is worth in a relative answer

    def __init__(self, coordinates: Coordinates | None = None) -> None:
        coordinates = coordinates or self.default_coordinates
        if coordinates not in ("absolute", "relative"):
            raise ValueError(f"coordinates must be 'absolute' or 'relative', not {coordinates!r}")
        # Qwen2.5-VL and the models built on it answer in pixels of the image they saw;
        # "relative" serves models that answer in 0..1000 (UI-TARS-1.0, Qwen2-VL, Qwen3-VL).
        self.relative = coordinates == "relative"

    @property
    def name(self) -> str:
        return self.info.name

    @abstractmethod
    def build_messages(
        self, context: PromptContext, history: Sequence[HistoryStep], screenshot: Image.Image
    ) -> list[Message]:
        """The full conversation for the next step; ``screenshot`` is already frame-sized."""

    @abstractmethod
    def parse(self, answer: str, frame: ModelFrame) -> ParsedAnswer:
        """Read the model's answer into actions in the model frame."""

    @abstractmethod
    def grounding_messages(self, query: str, screenshot: Image.Image, frame: ModelFrame) -> list[Message]:
        """A one-shot "find X" query on a frame-sized screenshot."""

    @abstractmethod
    def parse_grounding(self, answer: str, frame: ModelFrame) -> list[GroundingHit]:
        """The objects a grounding answer names, best first; raises if none."""

    def grounding_frame(self, frame: ModelFrame) -> ModelFrame:
        """The frame a grounding answer's points are in, for a screen whose actions are in ``frame``.

        The same by default; a family whose boxes use another scale than its action calls says so here,
        and every reader of a grounding answer (tap steps, eval, replay, export) parses and maps in it.
        """
        return frame
