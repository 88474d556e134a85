"""Continuous batching (agent/backends/local/fleet/engine.py) on the tiny model: each row's greedy tokens are plain generate's."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest

from qwen_gui_agent.tools.messages import Message
from tests.agent.backends.local.conftest import chat, noise_image

# (width, height, task, answer limit): other prompt lengths, image sizes and limits, so rows join and leave apart.
CASES = [
    (56, 56, "Click the search button.", 16),
    (112, 56, "Type hello", 16),
    (84, 140, "Scroll down please", 8),
    (168, 112, "x", 20),
    (56, 84, "open the settings app", 12),
]


def plain_tokens(model: Any, processor: Any, image: Any, task: str, limit: int) -> list[int]:
    inputs = processor(text=[chat(processor, task)], images=[image], return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=limit, do_sample=False)
    return output[0, inputs["input_ids"].shape[1] :].tolist()


@pytest.mark.parametrize("slots", [1, 3, 8])
def test_rows_joining_and_leaving_decode_as_each_alone(tiny, slots: int) -> None:
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, greedy_options
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine

    model, processor = tiny
    fast = FastPath.for_model(model)
    images = [noise_image(w, h, seed=n) for n, (w, h, _, _) in enumerate(CASES)]
    requests = [
        (fast.prepare(chat(processor, task), [image], processor), limit)
        for image, (_, _, task, limit) in zip(images, CASES, strict=False)
    ]
    engine = FleetEngine(fast, greedy_options(model.generation_config, do_sample=False), slots=slots, capacity=512)

    got = engine.run_all(requests)

    expected = [
        plain_tokens(model, processor, image, task, limit)
        for image, (_, _, task, limit) in zip(images, CASES, strict=False)
    ]
    assert got == expected
    assert len({tuple(tokens) for tokens in expected}) == len(CASES)  # every row's answer is its own
    assert engine.free_slots == slots


# 60-token slots: the prompts of CASES 2 and 3 (54, 53 tokens) + 10 new tokens + 1 do not fit: they run alone.
@pytest.mark.parametrize("capacity", [None, 60])
def test_the_shared_backend_batches_threads_on_the_fleet_engine(
    tiny_dir: Path, capacity: int | None, caplog: pytest.LogCaptureFixture
) -> None:
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend
    from qwen_gui_agent.agent.backends.batching import BatchingBackend
    from qwen_gui_agent.agent.backends.local.fleet.steps import FleetSteps

    settings = BackendSettings(
        kind="local", model=str(tiny_dir), source="local", torch_device="cpu", max_new_tokens=10, fast=True
    )
    backend = create_backend(settings)
    if capacity is not None:  # the real engine, with slots too short for some prompts
        backend.step_engine = lambda slots: FleetSteps(
            backend.model, backend.processor, settings, slots=slots, capacity=capacity
        )
    conversations = [
        [Message(role="user", parts=(noise_image(w, h, seed=n), task))] for n, (w, h, task, _) in enumerate(CASES)
    ]
    alone = [backend.complete(messages) for messages in conversations]
    caplog.set_level(logging.INFO, logger="qwen_gui_agent.agent.backends.batching")
    shared = BatchingBackend(backend, max_batch=3, gather_s=60.0)  # the first three fill a batch at once
    answers: dict[int, Any] = {}
    start = threading.Barrier(len(CASES))

    def worker(index: int) -> None:
        start.wait()
        answers[index] = shared.complete(conversations[index])

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(len(CASES))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    shared.close()

    assert [answers[n].text for n in range(len(CASES))] == [c.text for c in alone]
    assert [answers[n].usage for n in range(len(CASES))] == [c.usage for c in alone]
    assert [answers[n].seen_frame for n in range(len(CASES))] == [c.seen_frame for c in alone]
    if capacity is None:
        assert max(shared.batch_sizes) == 3  # decode steps ran three rows at once
    else:
        refused = [r for r in caplog.records if "could not join" in r.getMessage()]
        assert len(refused) == 2  # the two that do not fit were answered alone, with the answers above
