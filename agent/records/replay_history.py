"""The prompt history a run's loop built, rebuilt from its record one step at a time.

The CI replay (``records.replay``) re-renders each step's prompt with it, and ``agent eval steps`` asks a
model the same question the recorded model was asked: the same goal, the same earlier answers and
the same window of screenshots. Rules as the loop keeps them: a new goal, or any step that is not an
``ai`` step, starts an empty history; each ``ai`` step is remembered after it is shown.
"""

from __future__ import annotations

from PIL import Image

from qwen_gui_agent.agent.records.run_files import RecordedRun, StepRecord
from qwen_gui_agent.agent.runtime.history import History
from qwen_gui_agent.tools.dialects.base import Dialect, HistoryStep, PromptContext
from qwen_gui_agent.tools.frames import ModelFrame, resize_to_frame

# Model steps whose recorded answer is an action proposal read by the dialect's parser.
PARSED_KINDS = frozenset({"ai"})


class RecordedHistory:
    def __init__(self, run: RecordedRun, dialect: Dialect) -> None:
        self.run = run
        # Runs recorded before the window was stored used the dialect's default.
        window = run.info.frame_settings.get("history_images") or dialect.info.default_image_history
        self.history = History(max(1, int(window)))
        self.goal = run.info.task

    def enter(self, step: StepRecord) -> str:
        """Move to ``step``: the goal it works on, with the history reset where the loop reset it."""
        goal = step.goal or self.run.info.task  # runs recorded before steps carried their goal
        if step.kind not in PARSED_KINDS or goal != self.goal:
            self.history = History(self.history.image_window)
        self.goal = goal
        return goal

    def steps(self) -> tuple[HistoryStep, ...]:
        return self.history.steps()

    def context(self, frame: ModelFrame) -> PromptContext:
        return PromptContext(task=self.goal, frame=frame, device=self.device_kind())

    def remember(self, step: StepRecord, image: Image.Image | None) -> None:
        self.history.add(step.answer, action_text="; ".join(step.actions), image=image, feedback=step.feedback)

    def prompt_image(self, step: StepRecord, frame: ModelFrame | None) -> Image.Image | None:
        """The step's screenshot as the model saw it (resized to ``frame``), or as recorded when no frame is known."""
        image = self.screenshot(step)
        return resize_to_frame(image, frame) if image is not None and frame is not None else image

    def screenshot(self, step: StepRecord) -> Image.Image | None:
        if not step.screenshot:
            return None
        try:
            with Image.open(self.run.directory / step.screenshot) as image:
                return image.convert("RGB")
        except OSError:
            return None

    def device_kind(self) -> str:
        return "mobile" if self.run.info.device.get("kind") == "mobile" else "computer"
