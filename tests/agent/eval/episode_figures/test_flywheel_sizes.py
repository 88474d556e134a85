"""The flywheel's model sizes (``benchmarks/flywheel.py --model-size``) build, and grow as documented."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.small_qwen import SIZES, build_config, build_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CORPUS = ['Click the button. {"action": "left_click", "coordinate": [54, 92]}', 'Enter "Emile" into the field.'] * 60


def meta_model(size: str) -> Any:
    """The size's model on the meta device: its shapes alone, no memory, no time."""
    spec = SIZES[size]
    config = build_config(spec, build_tokenizer(CORPUS, spec))  # raises when the rotary sections do not fit
    with torch.device("meta"):
        return transformers.Qwen2_5_VLForConditionalGeneration(config)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_each_size_builds_a_qwen2_5_vl_whose_rotary_sections_fit_its_heads(size: str) -> None:
    model = meta_model(size)
    assert model.config.text_config.hidden_size == SIZES[size].hidden_size
    assert len(model.model.visual.blocks) == SIZES[size].vision_depth


def test_medium_is_about_five_times_small_split_between_seeing_and_choosing() -> None:
    counts = {}
    for size in ("small", "medium"):
        model = meta_model(size)
        vision = sum(parameter.numel() for parameter in model.model.visual.parameters())
        counts[size] = (sum(parameter.numel() for parameter in model.parameters()), vision)
    (small, _), (medium, medium_vision) = counts["small"], counts["medium"]
    assert 4 < medium / small < 7, counts  # the docs say 2.3 M and 12.2 M with the flywheel's vocabulary
    assert 0.35 < medium_vision / medium < 0.65, counts
