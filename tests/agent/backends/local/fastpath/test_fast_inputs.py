"""GPU-side preprocessing and rotary positions agree with transformers' processor and get_rope_index."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath
from qwen_gui_agent.agent.backends.local.fastpath.inputs import expand_image_tokens, rope_positions
from tests.agent.backends.local.conftest import chat, noise_image


def test_prepare_equals_the_processor_for_frame_sized_screenshots(tiny) -> None:
    model, processor = tiny
    fast = FastPath(model, processor)
    for width, height in [(420, 280), (336, 616), (1316, 728)]:
        image = noise_image(width, height, seed=width)
        text = chat(processor)
        reference = processor(text=[text], images=[image], return_tensors="pt")
        prepared = fast.prepare(text, [image])
        assert torch.equal(prepared["input_ids"], reference["input_ids"])
        assert torch.equal(prepared["image_grid_thw"], reference["image_grid_thw"])
        assert torch.equal(prepared["pixel_values"], reference["pixel_values"])  # bit for bit


def test_prepare_resizes_an_image_that_is_not_frame_sized_to_the_same_grid(tiny) -> None:
    model, processor = tiny
    image = noise_image(1000, 700, seed=3)
    text = chat(processor)
    reference = processor(text=[text], images=[image], return_tensors="pt")
    prepared = FastPath(model, processor).prepare(text, [image])
    assert torch.equal(prepared["image_grid_thw"], reference["image_grid_thw"])
    assert prepared["pixel_values"].shape == reference["pixel_values"].shape
    # Resampled on another code path: close, not necessarily identical.
    assert (prepared["pixel_values"] - reference["pixel_values"]).abs().mean() < 0.05


def test_expand_image_tokens_repeats_each_placeholder_per_merged_patch() -> None:
    ids = expand_image_tokens([1, 9, 2, 9, 3], 9, [(1, 4, 6), (1, 2, 2)], merge=2)
    assert ids == [1] + [9] * 6 + [2] + [9] * 1 + [3]


@settings(max_examples=40, deadline=None)
@given(
    before=st.integers(0, 6),
    after=st.integers(0, 6),
    grid_h=st.integers(1, 6),
    grid_w=st.integers(1, 6),
    second=st.booleans(),
)
def test_rope_positions_match_transformers(
    tiny, before: int, after: int, grid_h: int, grid_w: int, second: bool
) -> None:
    model, _ = tiny
    image = model.config.image_token_id
    grids = [(1, 2 * grid_h, 2 * grid_w)] + ([(1, 2 * grid_w, 2)] if second else [])
    # Images are always fenced by vision_start/vision_end in real prompts: never adjacent.
    ids = [5] * before + [image] + [6] * after + ([8, image, 7] if second else [])
    ids = expand_image_tokens(ids, image, grids, merge=2)
    input_ids = torch.tensor([ids])
    token_types = (input_ids == image).int()
    expected, expected_delta = model.model.get_rope_index(
        input_ids, mm_token_type_ids=token_types, image_grid_thw=torch.tensor(grids)
    )
    positions, delta = rope_positions(ids, image, grids, merge=2)
    assert torch.equal(positions, expected)
    assert delta == int(expected_delta)


def test_rope_positions_of_plain_text_count_up() -> None:
    positions, delta = rope_positions([4, 5, 6], image_token_id=9, grids=[], merge=2)
    assert positions.tolist() == [[[0, 1, 2]]] * 3
    assert delta == 0
