"""A backend for any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang, DashScope, ModelScope).

Images travel as base64 data URLs at exactly the size the agent resized them
to (the frame rule): a server whose max_pixels is at least ours leaves them
alone, so the model answers in our frame.

Failures split by whether waiting can help:
- retried with exponential backoff (tenacity): 429 (honouring Retry-After,
  capped), 5xx, connection errors and timeouts (a deadline per attempt), and a
  reply that is not the JSON a chat completion is, or is too large (proxies and
  overloaded servers send HTML or cut bodies; a second try usually succeeds);
- failed at once: any other 4xx (bad model name, bad key, request too large),
  with the server's own message; and a connection that fails before the server
  ever answered (refused, unknown host): that is a wrong --base-url or a server
  that is not running, not a passing fault (once it has answered, a dropped
  connection is retried: a server restarting).
After the last retry: BackendRequestError with the status and a short excerpt.
The API key goes only into the Authorization header; it is never logged, and it
is masked in every text built from a reply. Deadlines, size caps and the reply's
shape: ``replies.py``.
"""

from __future__ import annotations

import base64
import email.utils
import io
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from ....tools.messages import Message
from ..base import (
    BackendRequestError,
    BackendUnavailable,
    Completion,
    ModelBackend,
    Usage,
)
from ..settings import BackendSettings
from .replies import (
    ReplyProblem,
    decode_json,
    fresh_connection_limits,
    mask_key,
    post_with_deadline,
    read_chat_completion,
    server_message,
)
from .serving_checks import ServingChecks

log = logging.getLogger(__name__)


class RetryableFailure(Exception):
    """One attempt failed in a way a later attempt may not."""

    def __init__(
        self, problem: str, *, status: int | None = None, excerpt: str = "", retry_after_s: float | None = None
    ) -> None:
        self.problem = problem
        self.status = status
        self.excerpt = excerpt
        self.retry_after_s = retry_after_s
        super().__init__(problem)


class OpenAIBackend(ModelBackend):
    name = "openai"

    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        headers = {"Accept": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        self._client = httpx.Client(
            base_url=settings.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.timeout_s),
            limits=fresh_connection_limits(),  # so each attempt's deadline watchdog holds its socket
        )
        self._answered = False  # whether the server has ever replied (see the module's note on connections)
        # Structured output, context limits, the server's frame (agent/backends/openai/serving_checks.py).
        self.checks = ServingChecks(settings, self._client, self._count_prompt_tokens)

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        started = time.perf_counter()
        body = {
            "model": self.settings.model,
            "messages": [self._wire_message(message) for message in messages],
            "max_tokens": max_new_tokens or self.settings.max_new_tokens,
            "temperature": self.settings.temperature,
        }
        plain_body = self.checks.before(messages, body, wants_action=wants_action)
        encoded = time.perf_counter()
        payload = self._post_with_retries(body)
        finished = time.perf_counter()
        reply = read_chat_completion(payload)
        text, seen, serving = self.checks.after(messages, plain_body, reply)
        return Completion(
            text=text,
            usage=reply.usage,
            model=reply.model or self.settings.model,
            timings={  # no streaming: the server's first-token and decode times are not visible here
                "encode": (encoded - started) * 1000,
                "request": (finished - encoded) * 1000,
                "total": (time.perf_counter() - started) * 1000,
            },
            seen_frame=seen,
            serving=serving,
        )

    def _count_prompt_tokens(self, body: dict[str, Any]) -> int | None:
        """usage.prompt_tokens of one more request (the frame check's twin)."""
        return read_reply(self._post_with_retries(body))[1].prompt_tokens

    def close(self) -> None:
        self._client.close()

    # -- request -----------------------------------------------------------------------------------------

    def _wire_message(self, message: Message) -> dict[str, Any]:
        if not message.images():  # plain string content: the form every server accepts, system turns included
            return {"role": message.role, "content": message.joined_text()}
        parts: list[dict[str, Any]] = []
        for part in message.parts:
            if isinstance(part, str):
                parts.append({"type": "text", "text": part})
            else:
                url = image_data_url(part, self.settings.image_format, self.settings.jpeg_quality)
                parts.append({"type": "image_url", "image_url": {"url": url}})
        return {"role": message.role, "content": parts}

    def _post_with_retries(self, body: Mapping[str, Any]) -> dict[str, Any]:
        attempts = self.settings.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._wait_seconds,
            retry=retry_if_exception_type(RetryableFailure),
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, body)
        except RetryableFailure as failure:
            status = f"HTTP {failure.status}: " if failure.status else ""
            excerpt = f" (reply began: {failure.excerpt!r})" if failure.excerpt else ""
            key = self.settings.api_key.get_secret_value() if self.settings.api_key is not None else None
            raise BackendRequestError(
                mask_key(f"{status}{failure.problem} at {self.settings.base_url}, {attempts} attempt(s){excerpt}", key),
                hint="check that the server is up and serving this model (--base-url, --model); "
                "raise --max-retries or the timeout for a slow or busy server",
            ) from None

    def _attempt(self, body: Mapping[str, Any]) -> dict[str, Any]:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key is not None else None
        try:
            reply = post_with_deadline(
                self._client,
                "/chat/completions",
                body,
                deadline_s=self.settings.timeout_s,
                max_bytes=self.settings.max_reply_bytes,
            )
        except ReplyProblem as problem:  # past the deadline, too large, or an encoding not asked for
            raise RetryableFailure(problem.problem) from None
        except httpx.TimeoutException:
            raise RetryableFailure(f"no reply within {self.settings.timeout_s:g} s") from None
        except httpx.ConnectError as error:
            if not self._answered:
                raise BackendUnavailable(
                    f"cannot connect to the model server at {self.settings.base_url} ({mask_key(str(error), key)})",
                    hint="start the server, or point --base-url at one that runs (e.g. http://HOST:8000/v1)",
                ) from None
            raise RetryableFailure(f"connection failed ({type(error).__name__}: {mask_key(str(error), key)})") from None
        except httpx.TransportError as error:
            raise RetryableFailure(f"connection failed ({type(error).__name__}: {mask_key(str(error), key)})") from None
        self._answered = True
        status = reply.status
        if status == 429 or status >= 500:
            raise RetryableFailure(
                "server busy" if status == 429 else "server error",
                status=status,
                excerpt=reply.text(api_key=key),
                retry_after_s=parse_retry_after(reply.headers.get("retry-after")),
            )
        if status >= 400:
            message = server_message(reply, key)
            raise self.checks.refusal(status, message, int(body["max_tokens"])) or BackendRequestError(
                f"HTTP {status} from {self.settings.base_url}: {message}",
                hint="the server refused the request and retrying will not help; its message says why (often a "
                "model name it does not serve (--model), a missing or wrong API key (--api-key-env), or a "
                "wrong --base-url)",
            )
        try:
            payload = decode_json(reply)
            read_chat_completion(payload)  # every field the answer is read from has its shape, or this says which
        except ReplyProblem as problem:
            raise RetryableFailure(problem.problem, status=status, excerpt=reply.text(api_key=key)) from None
        return payload

    def _wait_seconds(self, state: RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        retry_after = failure.retry_after_s if isinstance(failure, RetryableFailure) else None
        return backoff_seconds(
            state.attempt_number, retry_after, initial=self.settings.retry_initial_s, cap=self.settings.retry_max_wait_s
        )

    def _log_retry(self, state: RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("model request attempt %d failed (%s); retrying in %.2f s", state.attempt_number, failure, wait)


# -- wire helpers (pure functions, unit-tested) -----------------------------------------------------------


def image_data_url(image: Image.Image, image_format: str = "png", jpeg_quality: int = 90) -> str:
    """The image as a base64 data URL: PNG (lossless) or JPEG (smaller, for slow links)."""
    buffer = io.BytesIO()
    if image_format == "jpeg":
        image.convert("RGB").save(buffer, format="JPEG", quality=jpeg_quality)
        mime = "image/jpeg"
    else:
        image.save(buffer, format="PNG", compress_level=3)  # screenshots compress well already at low levels
        mime = "image/png"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def backoff_seconds(attempt: int, retry_after: float | None, *, initial: float, cap: float) -> float:
    """The wait after failed attempt number ``attempt`` (1-based): the server's Retry-After when it
    sent one, else ``initial`` doubled per attempt; never more than ``cap``."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), cap)
    return min(initial * 2 ** (attempt - 1), cap)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def read_reply(payload: Mapping[str, Any]) -> tuple[str, Usage]:
    """The answer text and token usage of a chat completion (ReplyProblem if it is not one)."""
    reply = read_chat_completion(payload)
    return reply.text, reply.usage
