"""The conversation the model saw at each recorded step, rebuilt from the run directory.

A run records every step's screenshot, frame, raw answer, actions and the
feedback sent back; with the run's settings (dialect, history window, language,
device kind) that is everything the goal loop put into each prompt. This walker
goes through the steps in order and keeps the prompt history exactly as the
loop did (one history per ``ai`` goal, each step remembered with its answer,
actions, frame-sized screenshot and feedback), so CI replay
(``agent.replay.check``) and the training-data export
(``agent.export.swift``) build the same prompts through today's dialect.
"""

from __future__ import annotations

from PIL import Image

from ...tools.actions import DeviceKind
from ...tools.dialects.base import Dialect, PromptContext
from ...tools.frames import ModelFrame, resize_to_frame
from ...tools.messages import Message
from ..files.images import UnreadableImage, open_rgb
from ..records.run_files import RecordedRun, StepRecord
from .history import History

# Model steps whose recorded answer is an action proposal read by the dialect's parser ...
PARSED_KINDS = frozenset({"ai"})
DEFAULT_LANGUAGE = "English"


class PromptRebuilder:
    """Walks a run's steps in order, rebuilding the prompt history as the loop did.

    Call ``begin(step)`` for every step, in order; for an ``ai`` step, ``messages``
    gives its prompt and ``remember`` adds it to the history afterwards.
    """

    def __init__(self, run: RecordedRun, dialect: Dialect) -> None:
        self.run = run
        self.dialect = dialect
        # Runs recorded before the window was stored used the dialect's default.
        window = run.info.frame_settings.get("history_images") or dialect.info.default_image_history
        self.history = History(max(1, int(window)))
        self.goal = run.info.task
        self.problems: dict[int, str] = {}  # step index -> why its screenshot could not be read

    @property
    def device_kind(self) -> DeviceKind:
        return "mobile" if self.run.info.device.get("kind") == "mobile" else "computer"

    @property
    def language(self) -> str:
        # Runs recorded before the language was stored ran with the default.
        return str(self.run.info.frame_settings.get("language") or DEFAULT_LANGUAGE)

    def begin(self, step: StepRecord) -> None:
        """Start ``step``: a step of another kind or another goal ended the goal loop, and its history."""
        goal = step.goal or self.run.info.task  # runs recorded before steps carried their goal
        if step.kind not in PARSED_KINDS or goal != self.goal:
            self.history = History(self.history.image_window)
        self.goal = goal

    def context(self, frame: ModelFrame) -> PromptContext:
        return PromptContext(
            task=self.goal,
            frame=frame,
            device=self.device_kind,
            language=self.language,
        )

    def messages(self, frame: ModelFrame, image: Image.Image) -> list[Message]:
        """The prompt of the current ``ai`` step: its frame-sized screenshot after the history so far."""
        return self.dialect.build_messages(self.context(frame), self.history.steps(), image)

    def remember(self, step: StepRecord, image: Image.Image | None) -> None:
        self.history.add(step.answer, action_text="; ".join(step.actions), image=image, feedback=step.feedback)

    def screenshot(self, step: StepRecord) -> Image.Image | None:
        """The step's screenshot as captured, or None when it is not recorded or unreadable (``problems`` says why)."""
        path = self.run.screenshot_path(step)  # None for a name that leads out of the run directory
        if path is None:
            self.problems[step.index] = "not recorded, or not a file of the run folder"
            return None
        try:
            return open_rgb(path)  # a regular file, not a decompression bomb
        except OSError as error:
            self.problems[step.index] = (
                str(error) if isinstance(error, UnreadableImage) else f"{path}: {error.strerror or error}"
            )
            return None

    def prompt_image(self, step: StepRecord, frame: ModelFrame | None) -> Image.Image | None:
        """The step's screenshot as the model saw it (resized to ``frame``), or as recorded when no frame is known."""
        image = self.screenshot(step)
        return resize_to_frame(image, frame) if image is not None and frame is not None else image
