"""Rows joining the fleet together (agent/backends/local/fleet/join.py) on the tiny model: batched vision, shared prefix, one prefill."""

from __future__ import annotations

from typing import Any

import pytest

from tests.agent.backends.local.conftest import chat, noise_image
from tests.agent.backends.local.fleet.test_fleet import plain_tokens

IMAGE_TOKEN = 9


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([[1, 2, 3, 9, 4], [1, 2, 3, 9, 5]], 3),  # everything before the image
        ([[1, 2, 3, 9], [1, 2, 7, 9]], 2),  # up to the first difference
        ([[1, 2, 3], [1, 2, 3, 4]], 2),  # each row keeps at least one token of its own
        ([[1, 9, 2], [1, 2, 9]], 1),  # the earliest image of any row
        ([[5], [5]], 0),
        ([[4, 4, 4, 4]], 3),
    ],
)
def test_the_shared_length_stops_at_the_first_image_and_difference(rows: list[list[int]], expected: int) -> None:
    from qwen_gui_agent.agent.backends.local.fleet.join import shared_length

    assert shared_length(rows, IMAGE_TOKEN) == expected


def fleet(model: Any, slots: int, **join: Any) -> Any:
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, greedy_options
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine
    from qwen_gui_agent.agent.backends.local.fleet.join import JoinSettings

    return FleetEngine(
        FastPath.for_model(model),
        greedy_options(model.generation_config, do_sample=False),
        slots=slots,
        capacity=512,
        join=JoinSettings(**join),
    )


# Four same-size screens (one vision call for all), two other sizes; tasks of different lengths.
SCREENS = [
    (112, 84, "Click the search button."),
    (112, 84, "Type hello"),
    (112, 84, "Scroll down please"),
    (56, 112, "open the settings app"),
    (112, 84, "x"),
    (84, 56, "Click OK then Cancel"),
]


@pytest.mark.parametrize(
    "join",
    [
        {"min_prefix_tokens": 1},  # the system prompt's keys and values computed once, reused by every row
        {"min_prefix_tokens": 1, "max_tokens": 40},  # every row its own prefill pass
        {"min_prefix_tokens": 1, "max_vision_patches": 100},  # two same-size screens a vision call (48 patches each)
        {"min_prefix_tokens": 10_000},  # no shared prefix: each row prefilled whole
    ],
)
def test_rows_joining_together_answer_as_each_alone(tiny, join: dict[str, Any]) -> None:
    model, processor = tiny
    engine = fleet(model, slots=4, **join)
    images = [noise_image(w, h, seed=n) for n, (w, h, _) in enumerate(SCREENS)]
    requests = [
        (engine.fast.prepare(chat(processor, task), [image], processor), 12)
        for image, (_, _, task) in zip(images, SCREENS, strict=False)
    ]

    got = engine.run_all(requests)

    assert got == [
        plain_tokens(model, processor, image, task, 12) for image, (_, _, task) in zip(images, SCREENS, strict=False)
    ]
    # Four joined at once, the other two as slots freed: the prefix was computed once and kept.
    assert engine.joiner.prefix_passes == (0 if join["min_prefix_tokens"] > 1000 else 1)


def with_system(processor: Any, system: str, task: str, image_first: bool = True) -> str:
    user = [{"type": "image"}, {"type": "text", "text": task}]
    messages = [
        {"role": "system", "content": [{"type": "text", "text": system}]},
        {"role": "user", "content": user if image_first else user[::-1]},
    ]
    return processor.apply_chat_template(messages, add_generation_prompt=True)


def plain_answers(model: Any, processor: Any, texts: list[str], image: Any, limit: int) -> list[list[int]]:
    answers = []
    for text in texts:
        inputs = processor(text=[text], images=[image], return_tensors="pt")
        output = model.generate(**inputs, max_new_tokens=limit, do_sample=False)
        answers.append(output[0, inputs["input_ids"].shape[1] :].tolist())
    return answers


def test_rows_joining_one_by_one_keep_the_part_of_the_prefix_they_share(tiny) -> None:
    """A lone row's prefix runs up to its image (its task text too); the next row cuts it to what both share."""
    model, processor = tiny
    engine = fleet(model, slots=1, min_prefix_tokens=1)
    image = noise_image(112, 84)
    texts = [
        with_system(processor, "You operate a phone.", task, image_first=False)
        for task in ("Open the mail app", "Go back home", "Call Bob")
    ]

    got = engine.run_all([(engine.fast.prepare(text, [image], processor), 8) for text in texts])

    assert got == plain_answers(model, processor, texts, image, 8)
    assert engine.joiner.prefix_passes == 1  # computed for the first row, cut for the second, reused by the third
    system = processor.tokenizer(with_system(processor, "You operate a phone.", ""))["input_ids"]
    assert 0 < len(engine.joiner.prefix.tokens) < len(system)


def test_a_new_shared_prefix_replaces_the_kept_one(tiny) -> None:
    model, processor = tiny
    image = noise_image(112, 84)
    texts = [
        with_system(processor, "You operate a phone.", "Open the mail app"),
        with_system(processor, "You operate a phone.", "Go back"),
        with_system(processor, "You operate a desktop computer.", "Open the mail app"),
    ]
    phone, _, desktop = (processor.tokenizer(text)["input_ids"] for text in texts)
    both = next(n for n, (a, b) in enumerate(zip(phone, desktop, strict=False)) if a != b)
    # Prefixes must be longer than what the two system prompts share, so the kept one cannot be cut to fit.
    engine = fleet(model, slots=2, min_prefix_tokens=both + 1)

    got = engine.run_all([(engine.fast.prepare(text, [image], processor), 8) for text in texts])

    assert got == plain_answers(model, processor, texts, image, 8)
    assert engine.joiner.prefix_passes == 2  # the phone prompt, then the desktop one
    assert engine.joiner.prefix.tokens == tuple(
        engine.fast.prepare(texts[2], [image], processor)["input_ids"][0].tolist()[: len(engine.joiner.prefix.tokens)]
    )
    assert len(engine.joiner.prefix.tokens) > both


def test_a_join_that_does_not_fit_leaves_every_slot_free(tiny) -> None:
    model, processor = tiny
    engine = fleet(model, slots=3)
    image = noise_image(56, 56)
    fits = (engine.fast.prepare(chat(processor, "a"), [image], processor), 8)
    too_long = (fits[0], 512)

    with pytest.raises(ValueError, match="do not fit"):
        engine.admit_many([(fits[0], fits[1], 0), (too_long[0], too_long[1], 1)])
    with pytest.raises(ValueError, match="4 conversations cannot join: 3 free slots"):
        engine.admit_many([fits + (n,) for n in range(4)])
    assert engine.admit_many([]) == []

    assert engine.free_slots == 3
    assert engine.run_all([fits]) == [plain_tokens(model, processor, image, "a", 8)]


@pytest.mark.parametrize(
    ("min_prefix_tokens", "slots"), [(1, (0, 1, 2, 3)), (10_000, (0, 1, 2, 3)), (1, (3, 0, 2, 1))]
)  # slots out of order: gathered
def test_the_joined_rows_first_logits_are_the_models_own(tiny, min_prefix_tokens: int, slots: tuple[int, ...]) -> None:
    """Greedy tokens of a random tiny model hardly depend on the context; the logits do."""
    import torch

    from qwen_gui_agent.agent.backends.local.fleet.join import JoiningRow

    model, processor = tiny
    engine = fleet(model, slots=4, min_prefix_tokens=min_prefix_tokens)
    screens = [noise_image(w, h, seed=n) for n, (w, h, _) in enumerate(SCREENS[:4])]
    texts = [chat(processor, task) for _, _, task in SCREENS[:4]]
    rows = [
        JoiningRow.of(engine.fast.prepare(text, [image], processor), slot, model.config, engine.fast.device)
        for slot, text, image in zip(slots, texts, screens, strict=False)
    ]

    joined = engine.joiner.join(rows)

    for text, image, logits in zip(texts, screens, joined, strict=False):
        inputs = processor(text=[text], images=[image], return_tensors="pt")
        with torch.inference_mode():
            expected = model(**inputs).logits[0, -1].float()
        torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)
    assert engine.joiner.prefix_passes == (1 if min_prefix_tokens == 1 else 0)


def test_a_text_only_conversation_joins_beside_screens(tiny) -> None:
    model, processor = tiny
    engine = fleet(model, slots=3, min_prefix_tokens=1)
    image = noise_image(112, 84)
    text_only = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}], add_generation_prompt=True
    )
    requests = [
        (engine.fast.prepare(chat(processor, "Tap OK"), [image], processor), 8),
        (engine.fast.prepare(text_only, [], processor), 8),
        (engine.fast.prepare(chat(processor, "Tap Cancel"), [image], processor), 8),
    ]

    got = engine.run_all(requests)

    inputs = processor(text=[text_only], return_tensors="pt")
    alone = model.generate(**inputs, max_new_tokens=8, do_sample=False)[0, inputs["input_ids"].shape[1] :].tolist()
    assert got == [
        plain_tokens(model, processor, image, "Tap OK", 8),
        alone,
        plain_tokens(model, processor, image, "Tap Cancel", 8),
    ]


class ReplayedVision:
    """A vision tower as its CUDA graphs behave: each call writes the same output tensors (CPU stand-in)."""

    def __init__(self, vision: Any) -> None:
        self.vision = vision
        self.outputs: dict[Any, Any] = {}

    def __call__(self, pixels: Any, grid: Any) -> Any:
        fresh = self.vision.forward(pixels, grid)
        out = self.outputs.setdefault(
            grid, type(fresh)(fresh.embeds.clone(), tuple(t.clone() for t in fresh.deepstack))
        )
        for kept, new in zip((out.embeds, *out.deepstack), (fresh.embeds, *fresh.deepstack), strict=False):
            kept.copy_(new)
        return out

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.vision.forward(*args, **kwargs)

    def captured(self, grid: Any) -> bool:
        return True  # as if every screen size had its graph


def test_screens_of_one_size_in_one_call_each_keep_their_own_embeddings(tiny) -> None:
    model, processor = tiny
    engine = fleet(model, slots=3, max_vision_patches=1)  # every screen its own call, the same graph replayed
    engine.fast.vision = ReplayedVision(engine.fast.vision)
    images = [noise_image(112, 84, seed=n) for n in range(3)]
    try:
        got = engine.run_all(
            [(engine.fast.prepare(chat(processor, "Tap OK"), [image], processor), 8) for image in images]
        )
    finally:
        engine.fast.vision = engine.fast.vision.vision
    assert got == [plain_tokens(model, processor, image, "Tap OK", 8) for image in images]


@pytest.mark.parametrize(
    ("kernels", "head_dim", "expected"), [(True, 128, True), (True, 64, True), (True, 80, False), (False, 128, False)]
)
def test_the_fleet_kernels_apply_on_triton_and_power_of_two_heads(kernels: bool, head_dim: int, expected: bool) -> None:
    from qwen_gui_agent.agent.backends.local.fleet.attention import applies

    assert applies(kernels, head_dim) is expected
