"""The fleet on Qwen3-VL (tiny random model, CPU, float32): rows joined together decode as each alone through generate.

The joins add each row's DeepStack features at its own image positions inside the padded batch;
the kept prefix, rows of several sizes, history screenshots and text-only rows all go through.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.agent.backends.local.conftest import noise_image

# (screenshots as (width, height) each, task, answer limit): several sizes, two history screenshots, a text-only row.
ROWS = [
    ([(64, 64)], "Click the search button.", 10),
    ([(128, 64)], "Type hello", 12),
    ([(64, 64), (96, 64), (64, 64)], "Scroll down please", 8),
    ([], "Say hi", 10),
    ([(96, 160)], "x", 14),
    ([(64, 96)], "open the settings app", 10),
]


def prompt(processor: Any, sizes: list[tuple[int, int]], task: str, seed: int) -> tuple[str, list[Any]]:
    images = [noise_image(w, h, seed=seed * 10 + n) for n, (w, h) in enumerate(sizes)]
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": task}]
    return processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True), images


def alone(model: Any, processor: Any, text: str, images: list[Any], limit: int) -> list[int]:
    inputs = processor(text=[text], images=images or None, return_tensors="pt")
    return model.generate(**inputs, max_new_tokens=limit, do_sample=False)[0, inputs["input_ids"].shape[1] :].tolist()


@pytest.mark.parametrize(
    ("slots", "join"),
    [
        (3, {"min_prefix_tokens": 1}),  # the system prompt's keys and values computed once and kept
        (4, {"min_prefix_tokens": 10_000}),  # every row prefilled whole
        (6, {"min_prefix_tokens": 1, "max_tokens": 60}),  # a prefill pass per row or two
        (1, {"min_prefix_tokens": 1}),  # one row at a time
    ],
)
def test_qwen3_rows_joining_and_leaving_decode_as_each_alone(tiny3, slots: int, join: dict[str, Any]) -> None:
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, greedy_options
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine
    from qwen_gui_agent.agent.backends.local.fleet.join import JoinSettings

    model, processor = tiny3
    fast = FastPath.for_model(model)
    prompts = [prompt(processor, sizes, task, seed) for seed, (sizes, task, _) in enumerate(ROWS)]
    engine = FleetEngine(
        fast,
        greedy_options(model.generation_config, do_sample=False),
        slots=slots,
        capacity=512,
        join=JoinSettings(**join),
    )

    got = engine.run_all(
        [
            (fast.prepare(text, images, processor), limit)
            for (text, images), (_, _, limit) in zip(prompts, ROWS, strict=False)
        ]
    )

    expected = [
        alone(model, processor, text, images, limit)
        for (text, images), (_, _, limit) in zip(prompts, ROWS, strict=False)
    ]
    assert got == expected
    assert len({tuple(tokens) for tokens in expected}) == len(ROWS)  # every row's answer is its own
    assert engine.free_slots == slots
