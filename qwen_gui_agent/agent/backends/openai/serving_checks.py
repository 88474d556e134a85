"""The openai backend's checks around each request: what is added before, what is read after.

Before: the structured-output constraint (``--grammar``, structured_output.py) and the context
check (context_limits.py). After: the answer read back into the dialect's text and checked against
the grammar, the server's frame (resize_check.py), the text calibration of the context estimate.
On a 4xx: which cause it is (overflow, refused constraint) as a typed error. ``GET /models`` is
asked once, only when something needs it (``auto`` form, no configured context limit).

Kept apart from backend.py, which only calls ``before``, ``refusal`` and ``after``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import httpx

from ....tools.messages import Message
from ..base import BackendRequestError, Usage
from ..context_limits import ContextBudget, overflow_from_refusal
from ..settings import BackendSettings
from .resize_check import ServerFrameCheck
from .server_info import ServerInfo, fetch_server_info
from .structured_output import (
    Constraint,
    build_constraint,
    ignored_note,
    refusal_is_about_constraint,
    rejected,
    resolve_form,
)

log = logging.getLogger(__name__)

SHOWN_NAMES = 10  # of a server's model names, in an error message


class ServingChecks:
    def __init__(self, settings: BackendSettings, client: httpx.Client,
                 count_prompt_tokens: Callable[[dict[str, Any]], int | None]) -> None:
        self.settings = settings
        self._client = client
        self._info: ServerInfo | None = None
        self.budget = ContextBudget(factor=settings.patch_factor)
        self.budget.learn_limit(settings.context_limit, "--context-limit")
        self.frames = ServerFrameCheck(count_prompt_tokens, enabled=settings.check_server_frame,
                                       base_url=settings.base_url, factor=settings.patch_factor)
        self._constraint: Constraint | None = None  # of the request in flight

    def server_info(self) -> ServerInfo:
        if self._info is None:
            self._info = fetch_server_info(self._client, self.settings.model, deadline_s=self.settings.timeout_s)
            self.budget.learn_limit(self._info.max_model_len, "the server's max_model_len")
        return self._info

    # -- before --------------------------------------------------------------------------------------

    def before(self, messages: Sequence[Message], body: dict[str, Any], *, wants_action: bool) -> dict[str, Any]:
        """Check the context, add the constraint to ``body``; returns the body without it (for the twin)."""
        max_tokens = int(body["max_tokens"])
        if self.budget.limit is None and self.settings.context_limit is None:
            self.server_info()
        self.budget.check(messages, max_tokens)
        plain = dict(body)
        self._constraint = self._constraint_for(messages) if wants_action else None
        if self._constraint is not None:
            body.update(self._constraint.fields)
        return plain

    def _constraint_for(self, messages: Sequence[Message]) -> Constraint | None:
        if self.settings.grammar is None or self.settings.structured_output == "off":
            return None
        images = [image for message in messages for image in message.images()]
        if not images:
            return None  # points are bounded by the screenshot's frame: no screenshot, no grammar
        info = self.server_info() if self.settings.structured_output == "auto" else None
        form = resolve_form(self.settings.structured_output, info, self.settings.base_url)
        frame = self.frames.server_frame_of(images[-1].size)
        return build_constraint(form, self.settings.grammar, frame)

    # -- a refusal -----------------------------------------------------------------------------------

    def refusal(self, status: int, message: str, max_tokens: int) -> BackendRequestError | None:
        """The typed error for a 4xx whose cause we can name; None for the generic one."""
        overflow = overflow_from_refusal(status, message, max_tokens, self.settings.base_url)
        if overflow is not None:
            self.budget.learn_limit(overflow.limit, "the server's refusal")
            return overflow
        if self._constraint is not None and refusal_is_about_constraint(message):
            return rejected(self._constraint.form, status, message, self.settings.base_url)
        if status == HTTPStatus.NOT_FOUND:
            return self._unknown_model(status, message)
        return None

    def _unknown_model(self, status: int, message: str) -> BackendRequestError | None:
        """A 404 for a model name the server does not serve: the error lists the names it does (GET /models)."""
        served = self.server_info().models
        if not served or self.settings.model in served:
            return None  # not about the name (a wrong path, say): the generic error says it
        names = ", ".join(served[:SHOWN_NAMES]) + (f" and {len(served) - SHOWN_NAMES} more"
                                                   if len(served) > SHOWN_NAMES else "")
        return BackendRequestError(
            f"HTTP {status} from {self.settings.base_url}: {message}; the server serves: {names}",
            hint=f"pass the name it serves: --model {served[0]} (or set model: in the task file)",
        )

    # -- after ---------------------------------------------------------------------------------------

    def after(self, messages: Sequence[Message], plain_body: dict[str, Any], text: str,
              usage: Usage) -> tuple[str, tuple[int, int] | None, dict[str, Any]]:
        """The answer text, the frame the model saw, and what to record with the step."""
        constraint, self._constraint = self._constraint, None
        seen, serving = self.frames.check(messages, plain_body, usage.prompt_tokens)
        self.budget.calibrate(messages, usage.prompt_tokens, serving.get("server_image_tokens"))
        if self.budget.limit is not None:
            serving["context_limit"] = self.budget.limit
        if constraint is not None:
            text, followed = constraint.read_answer(text)
            serving["structured_output"] = constraint.form if followed else f"ignored ({constraint.form})"
            if not followed:
                log.warning("%s", ignored_note(constraint.form))
        return text, seen, serving
