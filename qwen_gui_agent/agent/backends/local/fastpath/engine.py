"""The local backend's fast path: one agent step of Qwen2.5-VL or Qwen3-VL at close to what the GPU allows.

Where plain ``model.generate`` loses time, and what this module does instead:

- preprocessing on the CPU (normalize + patchify): done on the GPU (inputs.py);
- the vision tower's per-window (Qwen2.5-VL) or per-image (Qwen3-VL) Python loop: one attention
  call per segment length, the tower replayed as a CUDA graph per screen size (vision.py,
  vision_qwen3.py), exact Triton kernels for its norms, rotary and SiLU where they apply;
- transformers' prefill: the engine's own model (model.py) in its ``exact`` style, keys and
  values written straight into the static cache the decode step reads (prefill.py);
- ~1,400 kernel launches and a host sync per decoded token: a static KV cache, the one-token
  step replayed as CUDA graphs between exact attention calls (decode.py), its norms, rotary
  and SiLU as Triton kernels that round like PyTorch and its gate/up, q/k/v and head products
  fused with them where they equal cuBLAS (kernels.py, rmsnorm.py, gemv.py).

Every stage computes bit for bit what ``generate`` computes (checked on an H100 and in
tests/agent/backends/local/fastpath), so the answer is ``generate``'s. Decoding is greedy
with the processors ``generate`` would apply for a greedy config (greedy.py: repetition penalty,
minimum new tokens, EOS stop); anything else (sampling, beams, n-gram bans) is refused
with ``FastPathUnsupported`` and the caller keeps plain ``generate``.

Warm-up (capturing graphs) happens once per process and per cache-size bucket (prompt +
new tokens rounded up to ``capacity_step``) and once per screen size for the vision tower;
nothing is compiled per shape. docs/performance.md has the measurements.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from . import kernels as fast_kernels
from .decode import DecodeGraph, DecodeState, choose_token, record_token
from .greedy import FastPathUnsupported, GreedyOptions, end_penalty, greedy_options
from .inputs import PatchSpec, expand_image_tokens, image_to_patches, rope_positions
from .model import TextModel
from .prefill import image_positions, prefill
from .vision import FastVision
from .vision_common import GraphedTower
from .vision_qwen3 import DeepstackVision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FastPathSettings:
    capacity_step: int = 1024  # KV cache lengths are rounded up to this: one graph per bucket
    max_graphs: int = 2  # captured buckets kept at once (each holds its own KV cache)
    # Norms, residual adds, SiLU and rotary of the decode step, and the vision tower's rotary, as Triton
    # kernels that round exactly like eager PyTorch (fast_kernels); used where CUDA and Triton are.
    triton_kernels: bool = True


@dataclass(frozen=True)
class FastResult:
    tokens: list[int]
    prompt_tokens: int
    # Milliseconds: vision, prefill (vision included: time to the first token), decode, total;
    # warm_up when this call captured a graph.
    timings: dict[str, float] = field(default_factory=dict)


def fast_generate(
    model: Any, inputs: Mapping[str, Any], max_new_tokens: int, temperature: float
) -> tuple[list[int], dict[str, float]] | None:
    """One local-backend step through the fast path: (new token ids, timings in ms), or None to use plain generate.

    None where the fast path does not apply (sampling, several images in a batch, a model split over
    GPUs, videos); the reason is logged. The FastPath (its graphs, its caches) lives on the model object.
    """
    if temperature != 0:
        return None
    try:
        options = greedy_options(model.generation_config, do_sample=False)
        result = FastPath.for_model(model).generate(inputs, max_new_tokens, options)
    except FastPathUnsupported as reason:
        log.info("plain generate for this step: %s", reason)
        return None
    return result.tokens, completion_timings(result.timings)


def completion_timings(timings: Mapping[str, float]) -> dict[str, float]:
    """A fast-path result's phase times under the names ``Completion.timings`` uses (first_token = prefill)."""
    named = {"first_token": timings["prefill"], "decode": timings["decode"], "vision": timings["vision"]}
    if "warm_up" in timings:
        named["warm_up"] = timings["warm_up"]
    return named


__all__ = [
    "FastPath",
    "FastPathSettings",
    "FastPathUnsupported",
    "FastResult",
    "GreedyOptions",
    "fast_generate",
    "greedy_options",
]


class FastPath:
    """Fast greedy generation for one loaded Qwen2.5-VL or Qwen3-VL model (batch of one, images and text)."""

    def __init__(self, model: Any, processor: Any = None, settings: FastPathSettings = FastPathSettings()) -> None:
        self.model = model
        self.processor = processor
        self.settings = settings
        self.device = model.lm_head.weight.device
        kernels = settings.triton_kernels and fast_kernels.available(self.device, model.lm_head.weight.dtype)
        if not hasattr(model.model.language_model.layers[0].mlp, "gate_proj"):
            raise FastPathUnsupported("the engine runs dense gated-MLP layers; this model's layers are not")
        self.text = TextModel.of(model, kernels=kernels)
        self.vision = vision_tower(model.model.visual, kernels)
        self.dtype = self.text.head.weight.dtype
        self.config = model.config
        self.vocab = self.text.head.weight.shape[0]
        self._graphs: OrderedDict[int, DecodeGraph] = OrderedDict()
        self._pinned: torch.Tensor | None = None
        if self.device.type == "cuda" and torch.backends.cuda.cudnn_sdp_enabled():
            # On an H100 (torch 2.11) cuDNN attention made plain generate itself non-reproducible (two runs,
            # different logits) and once crashed a graph capture; flash attention is deterministic. Process-wide
            # on purpose: generate and the fast path then pick the same kernels and the same tokens.
            log.info("turning cuDNN attention off for reproducible greedy answers (flash attention is used)")
            torch.backends.cuda.enable_cudnn_sdp(False)

    @classmethod
    def for_model(cls, model: Any) -> FastPath:
        """The model's FastPath, made on first use and kept on the model (graphs are per model)."""
        fast = getattr(model, "_fast_path", None)
        if fast is None:
            devices = set(getattr(model, "hf_device_map", {}).values()) - {"cpu", "disk"}
            if len(devices) > 1:
                raise FastPathUnsupported(f"the model is split over {len(devices)} devices")
            fast = cls(model)
            model._fast_path = fast
        return fast

    # -- inputs -----------------------------------------------------------------------------

    def prepare(
        self, text: str, images: Iterable[Any], processor: Any = None, size: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        """input_ids, mm_token_type_ids, pixel_values and image_grid_thw for a prompt with one placeholder per image.

        Pixels are normalized and patchified on the model's device; an image whose size is not
        its frame size is resized there first (the agent normally sends frame-sized screenshots).
        ``processor`` (default: the one given at construction) supplies the tokenizer and pixel bounds;
        ``size`` ({"shortest_edge", "longest_edge"}, what the processor call takes) overrides the bounds.
        """
        processor = processor or self.processor
        if processor is None:
            raise FastPathUnsupported("prepare() needs the processor")
        image_processor = processor.image_processor
        spec = PatchSpec.from_processor(image_processor)
        bounds = size or image_processor.size
        patches, grids = [], []
        for image in images:
            frame = self._frame_size(image, bounds, spec)
            pixels, grid = image_to_patches(image, spec, self.device, frame)
            patches.append(pixels)
            grids.append(grid)
        ids = processor.tokenizer(text, add_special_tokens=False)["input_ids"]
        ids = expand_image_tokens(ids, self.config.image_token_id, grids, spec.merge_size)
        input_ids = torch.tensor([ids], device=self.device)
        return {
            "input_ids": input_ids,
            # What generate reads to place images on the rotary axes (1 at image tokens), as the processor gives it.
            "mm_token_type_ids": (input_ids == self.config.image_token_id).long(),
            "pixel_values": torch.cat(patches) if patches else None,
            "image_grid_thw": torch.tensor(grids, dtype=torch.long) if grids else None,
        }

    @staticmethod
    def _frame_size(image: Any, size: Any, spec: PatchSpec) -> tuple[int, int]:
        from .....tools.frames import smart_resize

        low = size["shortest_edge"] if isinstance(size, dict) else size.shortest_edge
        high = size["longest_edge"] if isinstance(size, dict) else size.longest_edge
        width, height = image.size
        return smart_resize(height, width, factor=spec.patch_size * spec.merge_size, min_pixels=low, max_pixels=high)

    # -- generation -------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, inputs: Mapping[str, Any], max_new_tokens: int, options: GreedyOptions) -> FastResult:
        """Greedy new tokens for one prompt (input_ids, and pixel_values + image_grid_thw when it has images)."""
        input_ids = inputs["input_ids"].to(self.device)
        if input_ids.shape[0] != 1:
            raise FastPathUnsupported("the fast path decodes one conversation at a time (batch size 1)")
        if inputs.get("pixel_values_videos") is not None:
            raise FastPathUnsupported("videos are not handled by the fast path")
        prompt = input_ids.shape[1]
        started = time.perf_counter()
        graph, created = self._graph_for(self._capacity(prompt, max_new_tokens))
        warm_up_ms = (time.perf_counter() - started) * 1000 if created else 0.0
        clock = self._start(graph, inputs, input_ids, options)
        produced = self._decode(graph, max_new_tokens, options)
        clock.mark("decode")
        tokens = graph.state.out[:produced].tolist()
        timings = clock.phase_timings()
        if produced > 1:
            timings["decode_per_token"] = timings["decode"] / (produced - 1)
        if warm_up_ms:
            timings["warm_up"] = warm_up_ms
        return FastResult(tokens=tokens, prompt_tokens=prompt, timings=timings)

    def _start(
        self,
        graph: DecodeGraph,
        inputs: Mapping[str, Any],
        input_ids: torch.Tensor,
        options: GreedyOptions,
        first_bias: Callable[[torch.Tensor], None] | None = None,
    ) -> _Clock:
        """Vision, prefill and the first token into ``graph``'s state; the clock has marked both phases.

        Host-side work first (positions need the token ids on the CPU), so the GPU then runs
        vision, prefill and decode back to back without waiting for Python. ``first_bias``
        (constrained decoding) writes the grammar's bias for the first token's choice.
        """
        grids = _grids(inputs.get("image_grid_thw"))
        merge = self.config.vision_config.spatial_merge_size
        positions, rope_delta = rope_positions(input_ids[0].tolist(), self.config.image_token_id, grids, merge)
        clock = _Clock(self.device)
        embeds, deepstack = self._embed(inputs, input_ids, grids)
        clock.mark("vision")
        state = graph.state
        first_logits = prefill(
            self.text,
            embeds,
            positions.to(self.device),
            state.keys,
            state.values,
            image_positions(input_ids, self.config.image_token_id, deepstack),
        )
        if first_bias is not None:
            first_bias(state.bias)
        self._load_state(state, input_ids, options, first_logits, rope_delta)
        graph.length = input_ids.shape[1]
        clock.mark("prefill")
        return clock

    def last_logits(self) -> torch.Tensor:
        """Raw float32 logits of the last token chosen (for checks against generate's output_logits)."""
        return next(reversed(self._graphs.values())).state.logits

    def static_cache_bytes(self) -> int:
        """GPU memory held by the static KV caches of the captured buckets."""
        return sum(
            t.numel() * t.element_size()
            for graph in self._graphs.values()
            for t in graph.state.keys + graph.state.values
        )

    def _capacity(self, prompt: int, max_new_tokens: int) -> int:
        step = self.settings.capacity_step
        return math.ceil((prompt + max_new_tokens + 1) / step) * step

    def _graph_for(self, capacity: int) -> tuple[DecodeGraph, bool]:
        graph = self._graphs.pop(capacity, None)
        created = graph is None
        if graph is None:
            while len(self._graphs) >= self.settings.max_graphs:  # free the oldest bucket's cache first
                self._graphs.popitem(last=False)
            log.info("capturing the decode step for a %d-token cache", capacity)
            state = DecodeState(self.text, capacity, self.vocab, self.device, self.dtype)
            graph = DecodeGraph(self.text, state)
        self._graphs[capacity] = graph
        return graph, created

    def _embed(
        self, inputs: Mapping[str, Any], input_ids: torch.Tensor, grids: list[tuple[int, int, int]]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """The prompt's input embeddings, image tokens replaced by the tower's output; its DeepStack features."""
        embeds = self.text.embed(input_ids)
        pixels = inputs.get("pixel_values")
        if pixels is None:
            return embeds, ()
        features = self.vision(pixels.to(self.device), tuple(grids))
        mask = (input_ids == self.config.image_token_id).unsqueeze(-1).expand_as(embeds)
        return embeds.masked_scatter(mask, features.embeds.to(embeds.dtype)), features.deepstack

    def _load_state(
        self,
        state: DecodeState,
        input_ids: torch.Tensor,
        options: GreedyOptions,
        first_logits: torch.Tensor,
        rope_delta: int,
    ) -> None:
        """The decode state after a prefill whose keys and values are already in ``state``'s cache."""
        state.cache_index.fill_(input_ids.shape[1])
        state.rope_delta.fill_(rope_delta)
        state.generated.zero_()
        state.min_new.fill_(options.min_new_tokens)
        state.repetition.fill_(options.repetition_penalty)
        state.eos_penalty.copy_(end_penalty(options, self.vocab, self.device))
        state.seen.zero_()
        state.seen.index_fill_(0, input_ids[0], True)
        record_token(choose_token(first_logits, state), state)

    def _decode(self, graph: DecodeGraph, max_new_tokens: int, options: GreedyOptions) -> int:
        """Run steps until EOS or max_new_tokens; the number of tokens in ``state.out`` that count."""
        steps = max_new_tokens - 1
        stops = set(options.eos_token_ids)
        if not stops or options.min_new_tokens >= max_new_tokens:
            for _ in range(steps):
                graph.step()
            return max_new_tokens
        if self.device.type != "cuda":
            return self._decode_checking_each(graph, steps, stops)
        return self._decode_pipelined(graph, steps, stops)

    @staticmethod
    def _decode_checking_each(graph: DecodeGraph, steps: int, stops: set[int]) -> int:
        out = graph.state.out
        for produced in range(1, steps + 1):
            if int(out[produced - 1]) in stops:
                return produced
            graph.step()
        return steps + 1

    def _decode_pipelined(self, graph: DecodeGraph, steps: int, stops: set[int]) -> int:
        """Check each token for EOS while the GPU already computes the next one (no bubble per token)."""
        out = graph.state.out
        if self._pinned is None or self._pinned.numel() < out.numel():
            self._pinned = torch.empty(out.numel(), dtype=torch.long, pin_memory=True)
        host = self._pinned
        pending: list[tuple[int, torch.cuda.Event]] = []

        def fetch(index: int) -> None:
            host[index : index + 1].copy_(out[index : index + 1], non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            pending.append((index, event))

        fetch(0)
        for produced in range(1, steps + 1):
            graph.step()
            fetch(produced)
            index, event = pending.pop(0)
            event.synchronize()
            if int(host[index]) in stops:
                return index + 1
        for index, event in pending:
            event.synchronize()
            if int(host[index]) in stops:
                return index + 1
        return steps + 1


def vision_tower(visual: Any, kernels: bool) -> GraphedTower:
    """The engine's tower for this model's vision config: Qwen3-VL's (DeepStack) or Qwen2.5-VL's (windows)."""
    if hasattr(visual, "deepstack_merger_list"):
        return DeepstackVision(visual, kernels=kernels)
    if hasattr(visual.config, "fullatt_block_indexes"):
        return FastVision(visual, kernels=kernels)
    raise FastPathUnsupported(f"the engine has no vision tower for {type(visual).__name__}")


def _grids(grid_thw: Any) -> list[tuple[int, int, int]]:
    return [] if grid_thw is None else [(int(t), int(h), int(w)) for t, h, w in grid_thw.tolist()]


class _Clock:
    """Phase times from CUDA events (no sync until the end) or the host clock on the CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: list[tuple[str, Any]] = [("start", self._now())]

    def _now(self) -> Any:
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def mark(self, name: str) -> None:
        self.marks.append((name, self._now()))

    def elapsed(self) -> dict[str, float]:
        if self.cuda:
            torch.cuda.synchronize()
        result = {}
        for (_, before), (name, after) in zip(self.marks, self.marks[1:], strict=False):
            result[name] = before.elapsed_time(after) if self.cuda else (after - before) * 1000
        return result

    def phase_timings(self) -> dict[str, float]:
        """vision, prefill, decode and total in ms; prefill includes vision (time to the first token,
        as generate's callers see it)."""
        timings = self.elapsed()
        timings["total"] = timings["vision"] + timings["prefill"] + timings["decode"]
        timings["prefill"] += timings["vision"]
        return timings
