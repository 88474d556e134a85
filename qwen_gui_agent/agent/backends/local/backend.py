"""The local backend: a Qwen-family model through transformers on this machine's GPU (or CPU).

Loaded once when the backend is built, reused for every step. One step:
render the chat template, run the processor (the image arrives already at its
frame size, so the processor's resize is the identity), generate, decode. The
frame the model really saw is read back from ``image_grid_thw`` (grid * patch
size) and returned as ``Completion.seen_frame``; if it differs from the image
we were given, the bounds disagree and the agent's clicks would drift, so it
is logged loudly.

All generation goes through ``_generate``: the seam where the fast decode path
(agent/backends/local/fastpath/engine.py, ``settings.fast``) branches off plain ``generate``, and where
``settings.grammar`` constrains the answer to the dialect's action format
(agent/backends/local/fastpath/grammar_decode.py). With the fast path on, preprocessing runs on the
model's device too (``FastPath.prepare``, bit-identical to the processor).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ....tools.messages import Message
from ..base import BackendUnavailable, Completion, ModelBackend, Usage
from ..settings import BackendSettings
from .loading import LoadedModel, import_torch, load_model, pixel_bounds
from .prompt import chat_template_messages, seen_frame

if TYPE_CHECKING:
    from ..batching import StepRequest

log = logging.getLogger(__name__)

Timings = dict[str, float]


class LocalBackend(ModelBackend):
    name = "local"

    def __init__(self, settings: BackendSettings, *, loaded: LoadedModel | None = None) -> None:
        self.settings = settings
        self.loaded = loaded if loaded is not None else load_model(settings)
        self.model = self.loaded.model
        self.processor = self.loaded.processor
        self.device = self.loaded.placement.device
        # The fast path is on by default where it pays (CUDA); settings.fast forces it either way.
        self.fast = settings.fast if settings.fast is not None else self.loaded.placement.on_cuda
        if self.fast and not self.loaded.fast_path:  # the registry (tools/models.py) says which families it serves
            log.info(
                "the CUDA fast path does not serve %s (%s): it runs on transformers' generate",
                self.loaded.family or "this model",
                self.loaded.model_class,
            )
            self.fast = False
        self._answer_grammar: Any = None  # compiled on the first constrained step (settings.grammar)
        log.info("model ready in %.0f ms on %s", self.loaded.load_ms, self.device)

    def complete(
        self, messages: Sequence[Message], *, max_new_tokens: int | None = None, wants_action: bool = False
    ) -> Completion:
        started = time.perf_counter()
        inputs, images = self._preprocess(messages)
        prepared = time.perf_counter()
        seen = seen_frame(inputs.get("image_grid_thw"), self._patch_size()) if images else None
        # The grammar shapes action answers only: grounding boxes and yes/no verdicts stay free.
        constrained = wants_action and self.settings.grammar is not None
        new_token_ids, timings = self._generate(
            inputs, max_new_tokens or self.settings.max_new_tokens, seen, constrained=constrained
        )
        text = self.processor.decode(new_token_ids, skip_special_tokens=True)
        finished = time.perf_counter()
        if seen is not None and seen != images[-1].size:
            log.warning(
                "the model saw the screenshot at %dx%d, not at the %dx%d it was given: the agent's frame "
                "bounds (min/max pixels) differ from the processor's, so its coordinates will drift",
                *seen,
                *images[-1].size,
            )
        return Completion(
            text=text.strip(),
            usage=Usage(prompt_tokens=int(inputs["input_ids"].shape[1]), completion_tokens=len(new_token_ids)),
            timings={"preprocess": (prepared - started) * 1000, **timings, "total": (finished - started) * 1000},
            model=self.settings.model,
            seen_frame=seen,
        )

    # -- several conversations at once (agent/backends/batching.py calls these on its scheduler thread) ----

    def batchable(self, request: StepRequest) -> bool:
        """Grammar-constrained steps run alone; everything else may share a batch."""
        return not (request.wants_action and self.settings.grammar is not None)

    def complete_batch(self, requests: Sequence[StepRequest]) -> list[Completion]:
        from .batch import generate_batch

        return generate_batch(self.model, self.processor, self.settings, requests, patch_size=self._patch_size())

    def step_engine(self, slots: int) -> Any:
        """Continuous batching on the fast path (FleetSteps), or None where it does not apply (CPU unless
        fast is forced, sampling): the scheduler then batches whole steps with complete_batch."""
        if not self.fast or self.settings.temperature != 0:
            log.info(
                "shared model: batched generate for steps that wait together (continuous batching needs "
                "the CUDA fast path and greedy decoding; fast=%s, temperature=%s)",
                self.fast,
                self.settings.temperature,
            )
            return None
        from .fastpath.engine import FastPathUnsupported
        from .fleet.steps import FleetSteps

        try:
            return FleetSteps(self.model, self.processor, self.settings, slots=slots, patch_size=self._patch_size())
        except FastPathUnsupported as reason:
            log.info("whole-step batches instead of continuous batching: %s", reason)
            return None

    def close(self) -> None:
        on_cuda = self.loaded.placement.on_cuda
        self.model = self.processor = None
        self.loaded = None  # type: ignore[assignment]
        if on_cuda:
            import_torch().cuda.empty_cache()

    # -- one step, in three parts --------------------------------------------------------------------

    def _preprocess(self, messages: Sequence[Message]) -> tuple[Any, list[Any]]:
        """Chat template + processor: token ids, pixel values and image grids on the model's device."""
        chat, images = chat_template_messages(messages)
        prompt = self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        if self.fast:
            from .fastpath.engine import FastPath, FastPathUnsupported

            try:
                fast = FastPath.for_model(self.model)
                return fast.prepare(prompt, images, self.processor, size=pixel_bounds(self.settings)), images
            except FastPathUnsupported as reason:
                log.info("preprocessing on the CPU: %s", reason)
        inputs = self.processor(
            text=[prompt], images=images or None, size=pixel_bounds(self.settings), return_tensors="pt"
        )
        return inputs.to(self.device), images

    def _generate(
        self, inputs: Any, max_new_tokens: int, frame: tuple[int, int] | None = None, *, constrained: bool = False
    ) -> tuple[list[int], Timings]:
        """New token ids (prompt excluded) and phase timings in ms: first_token (prefill) and decode."""
        if constrained:
            return self._generate_constrained(inputs, max_new_tokens, frame)
        if self.fast:  # greedy steps only; it returns None (and logs why) where it does not apply
            from .fastpath.engine import fast_generate

            answer = fast_generate(self.model, inputs, max_new_tokens, self.settings.temperature)
            if answer is not None:
                return answer
        return generate_plain(self.model, inputs, max_new_tokens, self.settings.temperature)

    def _generate_constrained(
        self, inputs: Any, max_new_tokens: int, frame: tuple[int, int] | None
    ) -> tuple[list[int], Timings]:
        """Greedy inside the action grammar (fast_grammar), forced tokens fed without decode steps."""
        from ..grammar.rules import GrammarSpec
        from .fastpath.engine import (
            FastPath,
            FastPathUnsupported,
            completion_timings,
            greedy_options,
        )
        from .fastpath.grammar import AnswerGrammar
        from .fastpath.grammar_decode import constrained_generate

        if frame is None:
            raise BackendUnavailable(
                "grammar-constrained decoding needs a screenshot in the prompt (points are bounded by its frame)",
                hint="run without --grammar for text-only prompts",
            )
        if self._answer_grammar is None:
            self._answer_grammar = AnswerGrammar(self.processor.tokenizer, int(self.model.lm_head.weight.shape[0]))
        spec = GrammarSpec.from_name(str(self.settings.grammar), *frame)
        options = greedy_options(self.model.generation_config, do_sample=False)
        try:
            fast = FastPath.for_model(self.model)
        except FastPathUnsupported as reason:
            raise BackendUnavailable(
                f"grammar-constrained decoding runs on the fast path, which refused: {reason}",
                hint="run without --grammar",
            ) from None
        result = constrained_generate(fast, inputs, max_new_tokens, self._answer_grammar.constraint(spec), options)
        timings = {
            **completion_timings(result.timings),
            "forced_tokens": float(result.forced),
            "decode_steps": float(result.decode_steps),
            "chunks": float(result.chunks),
        }
        return result.tokens, timings

    def _patch_size(self) -> int:
        return int(getattr(self.processor.image_processor, "patch_size", 14))


class PhaseClock:
    """A generate() streamer that only notes when the first new token arrives (prefill done).

    ``generate`` hands the prompt to ``put`` first, then each new token; the
    ``.cpu()`` copy it makes before calling waits for the GPU, so the clock is honest.
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_token: float | None = None
        self._puts = 0

    def put(self, value: Any) -> None:
        self._puts += 1
        if self._puts == 2:
            self.first_token = time.perf_counter()

    def end(self) -> None:
        """Nothing to flush: the clock keeps no tokens."""


def generate_plain(model: Any, inputs: Any, max_new_tokens: int, temperature: float) -> tuple[list[int], Timings]:
    """transformers' own ``generate``: greedy at temperature 0, else sampling; the rest from generation_config."""
    torch = import_torch()
    sampling: dict[str, Any] = (
        {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature}
    )
    clock = PhaseClock()
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=max_new_tokens, streamer=clock, **sampling)
    ended = time.perf_counter()
    new_token_ids = output[0, inputs["input_ids"].shape[1] :].tolist()
    first = clock.first_token or ended
    return new_token_ids, {"first_token": (first - clock.started) * 1000, "decode": (ended - first) * 1000}
