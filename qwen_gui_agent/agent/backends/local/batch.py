"""Several conversations in one ``generate``: the local backend's batched step (CPU or GPU).

As the Qwen2.5-VL cookbook batches: every prompt rendered with the chat
template, the processor given all prompts and all images at once with the
tokenizer padding on the left (so every prompt ends where decoding begins),
one ``generate`` over the batch, each row cut after its prompt. Greedy rows
come out as each conversation alone would (the attention mask hides the
padding and the rotary positions skip it); tests check it on the tiny model,
benchmarks/bench_fleet.py on the full-size ones.

A row stops at its own end token or at its own ``max_new_tokens``; the batch
runs until the longest row is done (rows that finished early are padded and
their padding dropped here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..base import Completion, Usage
from .loading import import_torch, pixel_bounds
from .prompt import chat_template_messages, seen_frame

if TYPE_CHECKING:
    from ..batching import StepRequest
    from ..settings import BackendSettings


@contextmanager
def left_padding(tokenizer: Any) -> Iterator[None]:
    """Pad on the left for the duration (decoder-only batches must end every prompt at the same column)."""
    previous = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        yield
    finally:
        tokenizer.padding_side = previous


def batch_inputs(
    processor: Any, settings: BackendSettings, requests: Sequence[StepRequest], device: Any
) -> tuple[Any, list[list[Any]]]:
    """The processor's batched tensors for every request (on ``device``), and each one's images."""
    prompts, images_per_request = [], []
    for request in requests:
        chat, images = chat_template_messages(request.messages)
        prompts.append(processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
        images_per_request.append(images)
    all_images = [image for images in images_per_request for image in images]
    with left_padding(processor.tokenizer):
        inputs = processor(
            text=prompts, images=all_images or None, size=pixel_bounds(settings), padding=True, return_tensors="pt"
        )
    return inputs.to(device), images_per_request


def end_token_ids(model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set(eos if isinstance(eos, list) else [eos] if eos is not None else [])


def generate_batch(
    model: Any, processor: Any, settings: BackendSettings, requests: Sequence[StepRequest], *, patch_size: int = 14
) -> list[Completion]:
    """One batched greedy (or sampled) ``generate`` for every request; completions in request order."""
    torch = import_torch()
    started = time.perf_counter()
    inputs, images_per_request = batch_inputs(processor, settings, requests, model.device)
    prepared = time.perf_counter()
    limits = [request.max_new_tokens or settings.max_new_tokens for request in requests]
    temperature = settings.temperature
    sampling: dict[str, Any] = (
        {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature}
    )
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max(limits), **sampling)
    ended = time.perf_counter()
    prompt_length = int(inputs["input_ids"].shape[1])
    stops = end_token_ids(model)
    grids = inputs.get("image_grid_thw")
    grid_index = 0
    completions = []
    for row, (limit, images) in enumerate(zip(limits, images_per_request, strict=True)):
        tokens = own_tokens(output[row, prompt_length:].tolist(), limit, stops)
        grid_index += len(images)
        seen = seen_frame(grids[grid_index - 1 : grid_index], patch_size) if images else None
        completions.append(
            Completion(
                text=processor.decode(tokens, skip_special_tokens=True).strip(),
                usage=Usage(prompt_tokens=int(inputs["attention_mask"][row].sum()), completion_tokens=len(tokens)),
                timings={
                    "preprocess": (prepared - started) * 1000,
                    "generate": (ended - prepared) * 1000,
                    "total": (ended - started) * 1000,
                    "batch": float(len(requests)),
                },
                model=settings.model,
                seen_frame=seen,
            )
        )
    return completions


def own_tokens(row: list[int], limit: int, stops: set[int]) -> list[int]:
    """A batch row's new tokens as the conversation alone would get them: up to its end token or its limit."""
    row = row[:limit]
    for index, token in enumerate(row):
        if token in stops:
            return row[: index + 1]
    return row
