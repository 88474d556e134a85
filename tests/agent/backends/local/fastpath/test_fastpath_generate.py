"""The fast path picks the same greedy tokens as transformers' generate (tiny model, CPU, eager steps).

On CUDA the same step functions are replayed as graphs; benchmarks/gpu_check_tokens.py compares
the logits bit for bit there (docs/performance.md has the H100 results).
"""

from __future__ import annotations

import pytest
import torch

from qwen_gui_agent.agent.backends.local.fastpath.engine import (
    FastPath,
    FastPathUnsupported,
    GreedyOptions,
    fast_generate,
    greedy_options,
)
from tests.agent.backends.local.conftest import chat, noise_image


@pytest.fixture(scope="module")
def inputs(tiny):
    _, processor = tiny
    return processor(text=[chat(processor)], images=[noise_image(420, 280)], return_tensors="pt")


def plain(model, inputs, **kwargs):
    with torch.inference_mode():
        out = model.generate(**inputs, do_sample=False, output_logits=True, return_dict_in_generate=True, **kwargs)
    return out.sequences[0, inputs["input_ids"].shape[1] :].tolist(), out.logits


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_new_tokens": 16},
        {"max_new_tokens": 16, "min_new_tokens": 16},
        {"max_new_tokens": 16, "repetition_penalty": 1.3},
    ],
)
def test_same_tokens_and_logits_as_generate(tiny, inputs, kwargs) -> None:
    model, processor = tiny
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


def test_stops_at_eos_like_generate(tiny, inputs) -> None:
    model, processor = tiny
    free, _ = plain(model, inputs, max_new_tokens=12)
    stop = free[4]  # make a token the model does produce the end-of-sequence token
    expected, _ = plain(model, inputs, max_new_tokens=12, eos_token_id=stop)
    result = FastPath(model, processor).generate(inputs, 12, GreedyOptions(eos_token_ids=(stop,)))
    assert result.tokens == expected
    assert result.tokens[-1] == stop and len(result.tokens) < 12


def test_the_same_fast_path_serves_prompts_of_other_sizes(tiny) -> None:
    model, processor = tiny
    fast = FastPath(model, processor)
    for width, height in [(420, 280), (616, 336), (420, 280)]:
        inputs = processor(
            text=[chat(processor, "Open the settings.")], images=[noise_image(width, height)], return_tensors="pt"
        )
        expected, _ = plain(model, inputs, max_new_tokens=8)
        assert fast.generate(inputs, 8, greedy_options(model.generation_config)).tokens == expected


def test_timings_are_reported(tiny, inputs) -> None:
    model, processor = tiny
    result = FastPath(model, processor).generate(inputs, 6, GreedyOptions(min_new_tokens=6))
    assert len(result.tokens) == 6
    assert set(result.timings) >= {"vision", "prefill", "decode", "total", "decode_per_token"}
    assert result.timings["prefill"] >= result.timings["vision"] > 0


@pytest.mark.parametrize(
    "overrides", [{"do_sample": True, "temperature": 0.7}, {"num_beams": 3}, {"no_repeat_ngram_size": 3}]
)
def test_options_it_cannot_honour_are_refused(tiny, overrides) -> None:
    model, _ = tiny
    with pytest.raises(FastPathUnsupported):
        greedy_options(model.generation_config, **overrides)


def test_fast_generate_leaves_sampling_to_plain_generate(tiny, inputs) -> None:
    model, _ = tiny
    assert fast_generate(model, inputs, 4, temperature=0.7) is None
    tokens, timings = fast_generate(model, inputs, 4, temperature=0.0)
    assert tokens == plain(model, inputs, max_new_tokens=4)[0]
    assert {"first_token", "decode", "vision"} <= set(timings)


def test_batches_are_refused(tiny) -> None:
    model, processor = tiny
    batch = {"input_ids": torch.ones(2, 5, dtype=torch.long)}
    with pytest.raises(FastPathUnsupported):
        FastPath(model, processor).generate(batch, 4, GreedyOptions())
