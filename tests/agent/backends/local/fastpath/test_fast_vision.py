"""The batched-window vision tower equals transformers' own, bit for bit, on ragged grids too."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_gui_agent.agent.backends.local.fastpath.vision import FastVision, window_layout


@pytest.mark.parametrize("grid", [(1, 52, 94), (1, 106, 48), (1, 8, 8), (1, 10, 18)])
def test_fast_vision_equals_transformers(tiny, grid) -> None:
    model, _ = tiny
    visual = model.model.visual
    config = visual.config
    torch.manual_seed(sum(grid))
    patch = config.in_channels * config.temporal_patch_size * config.patch_size**2
    pixels = torch.randn(grid[1] * grid[2], patch)
    with torch.inference_mode():
        expected = visual(pixels, grid_thw=torch.tensor([grid])).pooler_output
        got = FastVision(visual)(pixels, (grid,)).embeds
    assert torch.equal(got, expected)


def test_fast_vision_handles_two_images_at_once(tiny) -> None:
    model, _ = tiny
    visual = model.model.visual
    grids = ((1, 8, 12), (1, 6, 4))
    pixels = torch.randn(8 * 12 + 6 * 4, 3 * 2 * 14 * 14)
    with torch.inference_mode():
        expected = visual(pixels, grid_thw=torch.tensor(grids)).pooler_output
        got = FastVision(visual)(pixels, grids).embeds
    assert torch.equal(got, expected)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 30), w=st.integers(1, 30))
def test_window_layout_matches_transformers(h: int, w: int) -> None:
    vision_utils = pytest.importorskip("transformers.vision_utils")
    grid = (1, 2 * h, 2 * w)
    expected_order, cu = vision_utils.get_vision_window_index(
        torch.tensor([grid]), spatial_merge_size=2, window_size=112, patch_size=14
    )
    order, lengths = window_layout((grid,), merge=2, window_size=112, patch_size=14)
    assert torch.equal(order, expected_order)
    assert lengths == torch.diff(cu).tolist()
    assert sorted(order.tolist()) == list(range(h * w))  # every merge group exactly once
