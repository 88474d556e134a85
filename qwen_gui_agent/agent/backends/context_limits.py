"""The server's context length: where it is said, what a refusal for overflow reads like, and an estimate.

The limit comes from the first of: ``--context-limit`` (for servers that do not say it), the
``max_model_len`` of vLLM's (and SGLang's) ``/models`` listing, and the numbers in an HTTP 400
that refused a request for being too long. Those refusals, as the engines word them:

- vLLM: "This model's maximum context length is 8192 tokens. However, you requested 9212 tokens
  (8700 in the messages, 512 in the completion)." and, newer, "... your request has 8700 input
  tokens plus 512 'max_tokens'"; multimodal prompts: "The decoder prompt (length 9212) is longer
  than the maximum model length of 8192.";
- SGLang: "The input (9212 tokens) is longer than the model's context length (8192 tokens)."

A refusal becomes ``ContextOverflow`` with the limit and the sizes it names, so the run loop can
trim the history by as much as is missing and ask again (agent/runtime/context_fit.py).

Before a request, with the limit known, ``ContextBudget`` estimates its size: image tokens exactly
(image_tokens.py) plus text characters times the tokens-per-character the server's last
``usage.prompt_tokens`` showed. It raises ``ContextOverflow`` itself (nothing sent) when the
estimate plus ``max_tokens`` is over the limit. Without a calibration (no reply yet) it sends and
lets the server judge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ...tools.messages import Message
from .base import BackendRequestError
from .image_tokens import request_image_tokens, request_text_chars

# Words that mark a refusal as an overflow, and the numbers such a refusal may name.
_OVERFLOW = re.compile(
    r"context length|maximum model length|max_model_len|context window|too many tokens", re.IGNORECASE
)
_LIMIT = (
    r"maximum context length (?:is|of) (\d+)",
    r"maximum model length (?:is|of) (\d+)",
    r"context length \((\d+) tokens\)",
    r"max_model_len\D{0,5}(\d+)",
)
_PROMPT = (
    r"\((\d+) in the messages",
    r"has (\d+) input tokens",
    r"decoder prompt \(length (\d+)\)",
    r"prompt length of (\d+)",
    r"input \((\d+) tokens\)",
    r"(\d+) tokens from the input",
)
_REQUESTED = (r"requested (\d+) tokens", r"requested a total of (\d+) tokens")
FIT_HINT = (
    "trim what the prompt carries: fewer history screenshots (--history-images), a smaller frame "
    "(--max-pixels), a shorter answer budget (--max-new-tokens); or serve the model with a longer "
    "context (vLLM --max-model-len, SGLang --context-length)"
)


class ContextOverflow(BackendRequestError):
    """The prompt plus the answer budget does not fit the server's context length."""

    def __init__(
        self, message: str, *, limit: int | None, needed: int | None, source: str, hint: str = FIT_HINT
    ) -> None:
        self.limit = limit
        self.needed = needed  # prompt + answer budget in tokens, where known
        self.source = source  # where the numbers come from: "the server's HTTP 400", "an estimate" ...
        self.detail = message  # without the hint
        super().__init__(message, hint=hint)

    @property
    def excess(self) -> int | None:
        """Tokens too many, where both numbers are known."""
        return self.needed - self.limit if self.limit is not None and self.needed is not None else None


def _first_number(patterns: Sequence[str], text: str) -> int | None:
    for pattern in patterns:
        match = re.search(pattern, text, re.IGNORECASE)
        if match:
            return int(match.group(1))
    return None


def overflow_from_refusal(status: int, message: str, max_tokens: int, base_url: str) -> ContextOverflow | None:
    """A ContextOverflow when a 4xx's message says the request is longer than the context; else None."""
    if status not in (400, 413, 422) or not _OVERFLOW.search(message):
        return None
    limit = _first_number(_LIMIT, message)
    prompt = _first_number(_PROMPT, message)
    needed = prompt + max_tokens if prompt is not None else _first_number(_REQUESTED, message)
    sizes = f" (the request needs {needed} tokens with max_tokens {max_tokens})" if needed is not None else ""
    cap = f"its context of {limit} tokens" if limit is not None else "its context length"
    return ContextOverflow(
        f"HTTP {status} from {base_url}: the prompt does not fit {cap}{sizes}; the server said: {message}",
        limit=limit,
        needed=needed,
        source=f"the server's HTTP {status}",
    )


@dataclass
class ContextBudget:
    """The known limit and the text calibration of one backend."""

    factor: int  # the model's patch factor: what an image costs (image_tokens.py)
    limit: int | None = None
    limit_source: str = ""
    tokens_per_char: float | None = None  # from the last reply: (prompt_tokens - image tokens) / text chars

    def learn_limit(self, limit: int | None, source: str) -> None:
        if limit is not None and self.limit is None:
            self.limit, self.limit_source = limit, source

    def calibrate(self, messages: Sequence[Message], prompt_tokens: int | None, image_tokens: int | None) -> None:
        """Learn tokens per text character from a reply (``image_tokens``: what the server spent on images)."""
        chars = request_text_chars(messages)
        if prompt_tokens is None or chars == 0:
            return
        images = image_tokens if image_tokens is not None else request_image_tokens(messages, self.factor)
        if prompt_tokens > images:
            self.tokens_per_char = (prompt_tokens - images) / chars

    def estimate(self, messages: Sequence[Message]) -> int | None:
        """Prompt tokens of ``messages`` as this server counts them; None before any calibration."""
        if self.tokens_per_char is None:
            return None
        return request_image_tokens(messages, self.factor) + round(request_text_chars(messages) * self.tokens_per_char)

    def check(self, messages: Sequence[Message], max_tokens: int) -> int | None:
        """The estimate; raises ContextOverflow (before anything is sent) when it is over the limit."""
        estimate = self.estimate(messages)
        if self.limit is None or estimate is None or estimate + max_tokens <= self.limit:
            return estimate
        raise ContextOverflow(
            f"the prompt does not fit the context of {self.limit} tokens ({self.limit_source}): an estimated "
            f"{estimate} prompt tokens plus max_tokens {max_tokens}",
            limit=self.limit,
            needed=estimate + max_tokens,
            source="an estimate before sending",
        )
