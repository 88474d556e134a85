"""One model, many callers: a scheduler thread that answers the steps waiting together in one batch.

A suite's workers call ``complete`` from their own threads. The local model is
not thread-safe and answers one conversation per ``generate``; this backend
owns it on one scheduler thread. Whatever is waiting when the model becomes
free (up to ``max_batch``, after a short gather window) goes into one batched
call (``BatchCapable.complete_batch``); a lone step goes through the inner
backend's ``complete`` (the single-stream fast path on CUDA). A step the batch
cannot take (grammar-constrained) runs alone. Callers block until their own
answer is ready; an error in a batch is raised to every caller in it.

Batches form between steps: a worker whose device is still acting joins the
next batch, one that finishes leaves, so the batch follows the workers. Where
the inner backend offers a ``step_engine`` (the local backend on the CUDA fast
path: agent/backends/local/fleet/engine.py), the batch is continuous: waiting steps
join the running rows between decode steps, and a row answers as soon as it is
done; a step that cannot join is answered alone.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ...tools.messages import Message
from .base import BackendError, Completion, ModelBackend

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepRequest:
    """One caller's step: what ``ModelBackend.complete`` takes."""

    messages: tuple[Message, ...]
    max_new_tokens: int | None = None
    wants_action: bool = False


class StepEngine(Protocol):
    """Continuous batching: conversations join and leave a running batch between decode steps."""

    @property
    def free_slots(self) -> int: ...

    @property
    def active(self) -> int: ...

    def admit(self, requests: Sequence[tuple[StepRequest, Any]]) -> list[Any]:
        """The requests ((request, tag) each) join together; returns the tags of those that cannot."""

    def step(self) -> None: ...

    def finished(self) -> list[tuple[Any, Completion]]: ...

    def abandon(self) -> list[Any]: ...


@runtime_checkable
class BatchCapable(Protocol):
    def complete_batch(self, requests: Sequence[StepRequest]) -> list[Completion]:
        """One answer per request, each what ``complete`` would answer for it alone (greedy)."""

    def batchable(self, request: StepRequest) -> bool:
        """Whether this request may share a batch (a grammar-constrained one may not)."""


@dataclass
class _Waiting:
    request: StepRequest
    answer: Future[Completion] = field(default_factory=Future)


class BatchingBackend(ModelBackend):
    """A thread-safe front for a backend that is not: batches what is waiting, one batch at a time."""

    def __init__(self, inner: ModelBackend, *, max_batch: int = 8, gather_s: float = 0.005) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_batch = max(1, max_batch)
        self.gather_s = gather_s
        self.batch_sizes: list[int] = []  # every batch's size, in order: benchmarks and tests read it
        self._queue: queue.Queue[_Waiting | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="model-scheduler", daemon=True)
        self._closed = False
        self._thread.start()

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        if self._closed:
            raise BackendError("the shared model backend is closed")
        waiting = _Waiting(StepRequest(tuple(messages), max_new_tokens, wants_action))
        self._queue.put(waiting)
        return waiting.answer.result()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            self.inner.close()

    # -- the scheduler thread -------------------------------------------------------------------------

    def _serve(self) -> None:
        engine: StepEngine | None = None
        engine_tried = False
        stop = False
        while not stop:
            if engine is not None and engine.active:
                stop = self._admit(engine, self._drain(engine.free_slots))
                self._advance(engine)
                continue
            first = self._queue.get()
            if first is None:
                break
            batch, stop = self._gather(first)
            if len(batch) > 1 and not engine_tried:  # the first real batch builds the engine (graph capture)
                engine, engine_tried = self._engine(), True
            if engine is None or len(batch) == 1:  # a lone step: the single-stream path, fastest for one
                self._answer(batch)
                continue
            self._admit(engine, batch)
            self._advance(engine)
        if engine is not None:
            self._fail(engine.abandon(), BackendError("the shared model backend closed during this step"))
        self._fail_waiting()

    def _engine(self) -> StepEngine | None:
        make = getattr(self.inner, "step_engine", None)
        if make is None:
            return None
        try:
            return make(self.max_batch)
        except Exception:  # the engine is an optimisation: whole-step batches still work without it
            log.warning("continuous batching is unavailable; batching whole steps", exc_info=True)
            return None

    def _drain(self, room: int) -> list[_Waiting | None]:
        """What is waiting now, without blocking, up to ``room`` steps (a None ends the list: closing)."""
        taken: list[_Waiting | None] = []
        while len(taken) < room:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            taken.append(item)
            if item is None:
                break
        return taken

    def _admit(self, engine: StepEngine, items: Sequence[_Waiting | None]) -> bool:
        """The items into free slots, together (a step the batch cannot take runs alone first); True on closing."""
        closing = None in items
        joining = []
        for item in items:
            if item is None:
                break
            if isinstance(self.inner, BatchCapable) and not self.inner.batchable(item.request):
                self._answer([item])
            else:
                joining.append(item)
        if not joining:
            return closing
        try:
            refused = engine.admit([(item.request, item) for item in joining])
        except Exception:  # they cannot join (a bad image, say): each runs alone, as it would
            log.info("%d steps could not join the running batch; answering them alone", len(joining), exc_info=True)
            refused = joining
        for item in refused:
            log.info("a step could not join the running batch; answering it alone")
            self._answer([item])
        return closing

    def _advance(self, engine: StepEngine) -> None:
        """One decode step for every row, then answer the rows that are done."""
        try:
            for item, completion in engine.finished():  # done at admission (one token, or an end token first)
                item.answer.set_result(completion)
            if engine.active:
                engine.step()
                self.batch_sizes.append(engine.active)
            for item, completion in engine.finished():
                item.answer.set_result(completion)
        except Exception as error:
            log.debug("a decode step failed", exc_info=True)
            self._fail(engine.abandon(), error)

    @staticmethod
    def _fail(items: list[Any], error: BaseException) -> None:
        for item in items:
            if not item.answer.done():
                item.answer.set_exception(error)

    def _gather(self, first: _Waiting) -> tuple[list[_Waiting], bool]:
        """``first`` and whatever else arrives within the gather window, up to max_batch."""
        batch = [first]
        deadline = time.perf_counter() + self.gather_s
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _answer(self, batch: list[_Waiting]) -> None:
        inner = self.inner
        capable = inner if isinstance(inner, BatchCapable) else None
        together = [item for item in batch if capable is not None and capable.batchable(item.request)]
        alone = [item for item in batch if item not in together]
        if len(together) == 1:
            alone, together = together + alone, []
        if together and capable is not None:
            self.batch_sizes.append(len(together))
            self._settle(together, lambda: capable.complete_batch([item.request for item in together]))
        for item in alone:
            self.batch_sizes.append(1)
            request = item.request
            self._settle(
                [item],
                lambda request=request: [
                    self.inner.complete(
                        request.messages, max_new_tokens=request.max_new_tokens, wants_action=request.wants_action
                    )
                ],
            )

    @staticmethod
    def _settle(items: list[_Waiting], call: object) -> None:
        try:
            answers = call()  # type: ignore[operator]
        except BaseException as error:  # every caller gets the failure; the scheduler lives on
            log.debug("a batch of %d failed", len(items), exc_info=True)
            for item in items:
                item.answer.set_exception(error)
            return
        for item, answer in zip(items, answers, strict=True):
            item.answer.set_result(answer)

    def _fail_waiting(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                item.answer.set_exception(BackendError("the shared model backend closed before this step"))
