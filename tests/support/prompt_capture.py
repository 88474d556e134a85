"""A backend for recording runs whose prompts went through the REAL local backend's preprocessing.

``LocalPromptsScriptedAnswers`` hands every prompt to a real ``LocalBackend``
(the tiny Qwen2.5-VL's processor and chat template) and keeps exactly what that
backend would feed the model: input ids, pixel values, image grids. The answers
come from a script (the tiny model's random weights write gibberish, and a run
needs answers that act). The export tests compare ms-swift's encoding of each
exported row with what was kept here for that step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qwen_gui_agent.agent.backends.base import Completion, ModelBackend
from qwen_gui_agent.agent.backends.local.backend import LocalBackend
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.tools.messages import Message


@dataclass(frozen=True)
class SentInputs:
    input_ids: list[int]
    pixel_values: Any  # torch.Tensor
    image_grid_thw: Any  # torch.Tensor


class LocalPromptsScriptedAnswers(ModelBackend):
    name = "local-prompts"

    def __init__(self, local: LocalBackend, answers: Sequence[str]) -> None:
        self.local = local
        self.script = ScriptedBackend(answers)
        self.sent: list[SentInputs] = []  # one per model call, in order

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        inputs, _images = self.local._preprocess(messages)  # the local backend's own step, up to the model
        self.sent.append(
            SentInputs(
                input_ids=inputs["input_ids"][0].tolist(),
                pixel_values=inputs["pixel_values"].clone(),
                image_grid_thw=inputs["image_grid_thw"].clone(),
            )
        )
        return self.script.complete(messages, max_new_tokens=max_new_tokens, wants_action=wants_action)
