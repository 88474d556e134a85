"""The engine on Qwen3-VL (tiny random model, CPU, float32): its tower, prefill and decode are generate's bit for bit.

Qwen3-VL is the engine's second configuration (fastpath/model.py): q/k norms, interleaved rotary
axes, learned vision position embeddings and DeepStack. On CUDA the same code runs with graphs and
kernels; benchmarks/gpu_check_tokens.py --family qwen3 compares the logits bit for bit there.
"""

from __future__ import annotations

import pytest
import torch

from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, FastPathUnsupported, greedy_options
from qwen_gui_agent.agent.backends.local.fastpath.vision_qwen3 import DeepstackVision
from tests.agent.backends.local.conftest import chat, noise_image


def processed(processor, images, task: str = "Click the search button.") -> dict:
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": task}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    return processor(text=[text], images=images or None, return_tensors="pt")


def plain(model, inputs, **kwargs):
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, output_logits=True, return_dict_in_generate=True, **kwargs)
    return out.sequences[0, inputs["input_ids"].shape[1] :].tolist(), out.logits


@pytest.mark.parametrize("grids", [((1, 12, 16),), ((1, 20, 6),), ((1, 4, 4),), ((1, 12, 16), (1, 6, 8))])
def test_the_deepstack_tower_equals_transformers(tiny3, grids) -> None:
    model, _ = tiny3
    visual = model.model.visual
    torch.manual_seed(sum(h * w for _, h, w in grids))
    pixels = torch.randn(sum(h * w for _, h, w in grids), 3 * 2 * 16 * 16)
    with torch.inference_mode():
        expected = visual(pixels, grid_thw=torch.tensor(grids))
        got = DeepstackVision(visual)(pixels, grids)
    assert torch.equal(got.embeds, expected.pooler_output)
    assert len(got.deepstack) == len(expected.deepstack_features) == 1
    assert all(torch.equal(a, b) for a, b in zip(got.deepstack, expected.deepstack_features, strict=False))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_new_tokens": 14},
        {"max_new_tokens": 14, "min_new_tokens": 14},
        {"max_new_tokens": 14, "repetition_penalty": 1.3},
    ],
)
def test_tokens_and_logits_are_generates(tiny3, kwargs) -> None:
    model, processor = tiny3
    inputs = processed(processor, [noise_image(256, 192)])
    expected, logits = plain(model, inputs, **kwargs)
    options = greedy_options(
        model.generation_config,
        min_new_tokens=kwargs.get("min_new_tokens", 0),
        repetition_penalty=kwargs.get("repetition_penalty", 1.0),
    )
    fast = FastPath(model, processor)
    result = fast.generate(inputs, kwargs["max_new_tokens"], options)
    assert result.tokens == expected
    assert torch.equal(fast.last_logits(), logits[-1][0].float())
    fast.generate(inputs, 1, options)  # the prefill alone: its first logits, bit for bit
    assert torch.equal(fast.last_logits(), logits[0][0].float())


def test_history_screenshots_text_only_and_other_sizes(tiny3) -> None:
    """Several images in one prompt (UI-TARS sends up to five), a prompt without one, and sizes in turn."""
    model, processor = tiny3
    fast = FastPath(model, processor)
    prompts = [
        [noise_image(128, 96, seed=n) for n in range(3)] + [noise_image(256, 192, seed=9)],
        [],
        [noise_image(96, 160)],
        [noise_image(256, 192, seed=4)],
    ]
    for images in prompts:
        inputs = processed(processor, images, "What changed since the last screen?")
        expected, _ = plain(model, inputs, max_new_tokens=10)
        assert fast.generate(inputs, 10, greedy_options(model.generation_config)).tokens == expected


def test_prepare_equals_the_processor(tiny3) -> None:
    model, processor = tiny3
    fast = FastPath(model, processor)
    image = noise_image(320, 224, seed=2)
    reference = processed(processor, [image])
    prepared = fast.prepare(chat(processor), [image])
    for key in ("input_ids", "mm_token_type_ids", "pixel_values", "image_grid_thw"):
        assert torch.equal(prepared[key], reference[key]), key
    # prepare()'s inputs drive plain generate too (the backend's fallback for sampled steps).
    assert plain(model, prepared, max_new_tokens=6)[0] == plain(model, reference, max_new_tokens=6)[0]


def test_a_mixture_of_experts_model_is_refused(tiny3) -> None:
    model, _ = tiny3
    layer = model.model.language_model.layers[0]
    dense = layer.mlp
    layer.mlp = torch.nn.Identity()  # stands in for a sparse MoE block: no gate_proj
    try:
        with pytest.raises(FastPathUnsupported, match="dense"):
            FastPath(model)
    finally:
        layer.mlp = dense
