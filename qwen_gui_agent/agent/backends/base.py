"""The model interface: messages with images in, text with usage and timings out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ...tools.messages import Message


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    # Milliseconds per phase ("preprocess", "first_token", "decode", "total" ...).
    timings: Mapping[str, float] = field(default_factory=dict)
    model: str = ""
    # (width, height) of the image as the model really saw it, where the backend can tell.
    seen_frame: tuple[int, int] | None = None
    # What the serving side reported or did for this request (image tokens, the server's frame, the
    # structured-output outcome, token counts of the fast path), recorded with the step as ``serving``.
    serving: Mapping[str, Any] = field(default_factory=dict)


class BackendError(RuntimeError):
    """The model could not be asked: infrastructure, not a model mistake."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.hint = hint
        # One full stop between the two, whether or not the message (often a server's) ends with one.
        super().__init__(f"{message.rstrip().rstrip('.')}. {hint}" if hint else message)


class BackendUnavailable(BackendError):
    """Misconfigured or missing: extra not installed, no CUDA, weights not found."""


class ModelFilesRefused(BackendUnavailable):
    """Weights or an adapter the user named are damaged or unsafe to load: bad input (exit 2), not a passing fault."""


class BackendRequestError(BackendError):
    """A request failed for good (after retries, or an error that retrying cannot fix)."""


class ScriptExhausted(BackendError):
    """A scripted backend was asked for more answers than it holds."""


class ModelBackend(ABC):
    name: str

    @abstractmethod
    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        """One answer for the conversation; images in ``messages`` are already frame-sized.

        ``wants_action``: the answer must be an action in the dialect's format (an ``ai`` step), not a
        grounding box or a yes/no verdict. A backend that can enforce the format (local with
        ``settings.grammar``) does so only then; the others ignore it.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free what the backend holds."""

    def __enter__(self) -> ModelBackend:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
