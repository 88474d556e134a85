"""The server's one model, started when a call first asks it and shared by every run the server records.

Started lazily for two reasons: an MCP client waits for the server's first
answer with a short timeout (local weights take longer to load than that), and
a client that only takes screenshots and acts never needs a model at all. A
backend that cannot start raises its ``BackendError`` (with a hint) in the call
that needed it, recorded on that step; the next call tries again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ...tools.messages import Message
from ..backends import create_backend
from ..backends.base import Completion, ModelBackend
from ..backends.settings import BackendSettings

# An OpenAI-compatible server batches concurrent requests itself; the others answer one at a time.
CONCURRENT_KINDS = frozenset({"openai"})


class LazyBackend(ModelBackend):
    def __init__(self, settings: BackendSettings) -> None:
        self.settings = settings
        self.name = settings.kind
        self._backend: ModelBackend | None = None
        self._starting = threading.Lock()
        self._asking = None if settings.kind in CONCURRENT_KINDS else threading.Lock()

    @property
    def started(self) -> bool:
        return self._backend is not None

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        backend = self._started()
        if self._asking is None:
            return backend.complete(messages, max_new_tokens=max_new_tokens, wants_action=wants_action)
        with self._asking:  # two devices' calls may ask at once; a local model or a script takes one at a time
            return backend.complete(messages, max_new_tokens=max_new_tokens, wants_action=wants_action)

    def _started(self) -> ModelBackend:
        with self._starting:
            if self._backend is None:
                self._backend = create_backend(self.settings)
            return self._backend

    def close(self) -> None:
        with self._starting:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
