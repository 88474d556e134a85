"""The backend of a task that never asks a model (only ``do``, ``type``, ``wait``, ``launch`` steps).

Such a task runs without loading weights or reaching a server: nothing to install, download or
start. If a step asked anyway, that would be a bug of ours, and it says so instead of answering.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...tools.messages import Message
from .base import BackendUnavailable, Completion, ModelBackend


class NoModelBackend(ModelBackend):
    name = "none"

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        raise BackendUnavailable(
            "no model was started: this task has no step that asks one",
            hint="add a model step (ai, tap, assert, wait_for) only with a backend to answer it",
        )
