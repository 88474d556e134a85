"""The openai backend's checks around each request: what is added before, what is read after.

Before: the context check (context_limits.py), the server's frame when a constraint needs it
(resize_check.py: the points of the grammar are bounded by the frame the server will use), and the
structured-output constraint (``--grammar``, structured_output.py). After: the answer read back
into the dialect's text and checked against the grammar, the server's frame, the text calibration
of the context estimate.
On a 4xx: which cause it is (overflow, refused constraint) as a typed error. ``GET /models`` is
asked once, only when something needs it (``auto`` form, the JSON-schema form, which vLLM does
not get, no configured context limit).

Kept apart from backend.py, which only calls ``before``, ``refusal`` and ``after``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import httpx

from ....tools.messages import Message
from ..base import BackendRequestError
from ..context_limits import ContextBudget, overflow_from_refusal
from ..settings import BackendSettings
from .replies import ChatReply
from .resize_check import ServerFrameCheck
from .server_info import ServerInfo, fetch_server_info
from .structured_output import (
    Constraint,
    build_constraint,
    cut_note,
    ignored_note,
    refusal_is_about_constraint,
    refuse_json_schema_on_vllm,
    rejected,
    resolve_form,
)

log = logging.getLogger(__name__)

SHOWN_NAMES = 10  # of a server's model names, in an error message


class ServingChecks:
    def __init__(
        self,
        settings: BackendSettings,
        client: httpx.Client,
        count_prompt_tokens: Callable[[dict[str, Any]], int | None],
    ) -> None:
        self.settings = settings
        self._client = client
        self._info: ServerInfo | None = None
        self.budget = ContextBudget(factor=settings.patch_factor)
        self.budget.learn_limit(settings.context_limit, "--context-limit")
        self.frames = ServerFrameCheck(
            count_prompt_tokens,
            enabled=settings.check_server_frame,
            base_url=settings.base_url,
            factor=settings.patch_factor,
        )
        self._constraint: Constraint | None = None  # of the request in flight
        self._measured: dict[str, Any] | None = None  # the frame check done before it, to record with it

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
        self._constraint, self._measured = None, None
        if wants_action:
            self._constraint = self._constraint_for(messages, plain, max_tokens)
        if self._constraint is not None:
            body.update(self._constraint.fields)
        return plain

    def _constraint_for(self, messages: Sequence[Message], plain: dict[str, Any], max_tokens: int) -> Constraint | None:
        if self.settings.grammar is None or self.settings.structured_output == "off":
            return None
        images = [image for message in messages for image in message.images()]
        if not images:
            return None  # points are bounded by the screenshot's frame: no screenshot, no grammar
        configured = self.settings.structured_output
        info = self.server_info() if configured in ("auto", "openai-json-schema") else None
        form = resolve_form(configured, info, self.settings.base_url)
        if form == "openai-json-schema" and info is not None and info.engine == "vllm":
            raise refuse_json_schema_on_vllm(self.settings.base_url)
        frame = self.frames.server_frame_of(images[-1].size)
        constraint = build_constraint(form, self.settings.grammar, frame, max_tokens)  # a cap too small stops here
        # Points are bounded by the frame the server will show the model, so learn it before the request.
        self._measured = self.frames.measure_first(messages, plain)
        served = self.frames.server_frame_of(images[-1].size)
        return constraint if served == frame else build_constraint(form, self.settings.grammar, served, max_tokens)

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
        names = ", ".join(served[:SHOWN_NAMES]) + (
            f" and {len(served) - SHOWN_NAMES} more" if len(served) > SHOWN_NAMES else ""
        )
        return BackendRequestError(
            f"HTTP {status} from {self.settings.base_url}: {message}; the server serves: {names}",
            hint=f"pass the name it serves: --model {served[0]} (or set model: in the task file)",
        )

    # -- after ---------------------------------------------------------------------------------------

    def after(
        self, messages: Sequence[Message], plain_body: dict[str, Any], reply: ChatReply
    ) -> tuple[str, tuple[int, int] | None, dict[str, Any]]:
        """The answer text, the frame the model saw, and what to record with the step."""
        constraint, self._constraint = self._constraint, None
        usage = reply.usage
        seen, serving = self.frames.check(messages, plain_body, usage.prompt_tokens)
        serving.update(self._measured or {})  # measured before the request: that measurement is this step's
        self.budget.calibrate(messages, usage.prompt_tokens, serving.get("server_image_tokens"))
        if self.budget.limit is not None:
            serving["context_limit"] = self.budget.limit
        if constraint is None:
            return reply.text, seen, serving
        max_tokens = int(plain_body["max_tokens"])
        hit_cap = reply.finish_reason == "length" or (usage.completion_tokens or 0) >= max_tokens
        text, verdict = constraint.read_answer(reply.raw_text, hit_cap=hit_cap)
        serving["structured_output"] = constraint.form if verdict == "followed" else f"{verdict} ({constraint.form})"
        serving["grammar_frame"] = [constraint.spec.width, constraint.spec.height]
        if verdict == "ignored":
            log.warning("%s", ignored_note(constraint.form))
        elif verdict == "cut":
            log.warning("%s", cut_note(constraint.form, max_tokens))
        return text, seen, serving
