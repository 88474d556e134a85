"""Batched local inference on the tiny model: a batch answers each conversation as it is answered alone."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from qwen_gui_agent.agent.backends.batching import BatchingBackend, StepRequest
from qwen_gui_agent.agent.backends.local.batch import own_tokens
from qwen_gui_agent.tools.messages import Message

pytest.importorskip("torch")


def noise(width: int, height: int, seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


# Different image sizes, prompt lengths and answer limits, so rows are padded and stop at different points.
REQUESTS = [
    StepRequest((Message("user", (noise(56, 56, 0), "Click the search button.")),), max_new_tokens=12),
    StepRequest(
        (
            Message("system", ("You operate a phone.",)),
            Message("user", (noise(112, 56, 1), "Type hello into the field")),
        ),
        max_new_tokens=12,
    ),
    StepRequest(
        (Message("user", (noise(84, 140, 2), "Scroll to the bottom of the settings page, slowly")),), max_new_tokens=5
    ),
    StepRequest((Message("user", ("No screenshot this time: what next?",)),), max_new_tokens=12),
]


def alone(backend, request: StepRequest):
    return backend.complete(request.messages, max_new_tokens=request.max_new_tokens)


def test_a_batch_answers_each_conversation_as_it_is_answered_alone(local_backend) -> None:
    singles = [alone(local_backend, request) for request in REQUESTS]
    batched = local_backend.complete_batch(REQUESTS)

    assert [c.text for c in batched] == [c.text for c in singles]
    assert [c.usage for c in batched] == [c.usage for c in singles]
    assert [c.seen_frame for c in batched] == [c.seen_frame for c in singles]
    assert len({c.text for c in singles}) > 1  # the answers depend on the input, so equality means something
    assert all(c.timings["batch"] == len(REQUESTS) for c in batched)


def test_waiting_steps_from_several_threads_share_one_batch(local_backend) -> None:
    singles = [alone(local_backend, request) for request in REQUESTS]
    shared = BatchingBackend(local_backend, max_batch=len(REQUESTS), gather_s=60.0)  # fills long before 60 s
    answers: dict[int, str] = {}
    start = threading.Barrier(len(REQUESTS))

    def worker(index: int) -> None:
        start.wait()
        answers[index] = shared.complete(REQUESTS[index].messages, max_new_tokens=REQUESTS[index].max_new_tokens).text

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(REQUESTS))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert shared.batch_sizes == [len(REQUESTS)]
    assert [answers[index] for index in range(len(REQUESTS))] == [c.text for c in singles]


def test_a_lone_step_goes_through_the_single_stream_path(local_backend) -> None:
    shared = BatchingBackend(local_backend, max_batch=4, gather_s=0.0)
    answer = shared.complete(REQUESTS[0].messages, max_new_tokens=REQUESTS[0].max_new_tokens)
    assert shared.batch_sizes == [1]
    assert answer.text == alone(local_backend, REQUESTS[0]).text
    assert "batch" not in answer.timings


def test_a_failing_batch_fails_every_caller_and_the_scheduler_goes_on(local_backend) -> None:
    shared = BatchingBackend(local_backend, max_batch=2, gather_s=0.0)
    with pytest.raises(Exception):  # noqa: B017 - the processor's own error for a message with no content
        shared.complete([])
    assert shared.complete(REQUESTS[3].messages, max_new_tokens=3).usage.completion_tokens >= 1


@pytest.mark.parametrize(
    ("row", "limit", "expected"),
    [
        ([5, 6, 7, 8], 3, [5, 6, 7]),  # its own limit, shorter than the batch's
        ([5, 2, 0, 0], 4, [5, 2]),  # its end token, then the batch's padding
        ([5, 6], 4, [5, 6]),
    ],
)
def test_a_row_keeps_only_its_own_tokens(row: list[int], limit: int, expected: list[int]) -> None:
    assert own_tokens(row, limit, {2}) == expected
