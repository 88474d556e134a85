"""The fleet engine as the batching scheduler drives it: a step request joins, a completion leaves."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ...base import Completion, Usage
from ..fastpath.engine import FastPath, greedy_options
from ..loading import pixel_bounds
from ..prompt import chat_template_messages, seen_frame
from .engine import FleetEngine

if TYPE_CHECKING:
    from ...batching import StepRequest
    from ...settings import BackendSettings

log = logging.getLogger(__name__)


class FleetSteps:
    """Greedy steps of many conversations at once on the local model (agent/backends/local/fleet/engine.py)."""

    def __init__(
        self,
        model: Any,
        processor: Any,
        settings: BackendSettings,
        *,
        slots: int,
        capacity: int = 4096,
        patch_size: int = 14,
    ) -> None:
        self.processor = processor
        self.settings = settings
        self.patch_size = patch_size
        self.fast = FastPath.for_model(model)
        self.engine = FleetEngine(
            self.fast, greedy_options(model.generation_config, do_sample=False), slots=slots, capacity=capacity
        )

    @property
    def free_slots(self) -> int:
        return self.engine.free_slots

    @property
    def active(self) -> int:
        return len(self.engine.rows)

    def admit(self, requests: Sequence[tuple[StepRequest, Any]]) -> list[Any]:
        """Requests ((request, tag) each) join together; the tags of those that cannot (too long, unpreparable)."""
        joining, refused = [], []
        for request, tag in requests:
            chat, images = chat_template_messages(request.messages)
            try:
                prompt = self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
                inputs = self.fast.prepare(prompt, images, self.processor, size=pixel_bounds(self.settings))
            except Exception:  # this one alone (a broken image, say) answers with its own error
                log.info("a step's inputs could not be prepared for the batch", exc_info=True)
                refused.append(tag)
                continue
            prompt_tokens = int(inputs["input_ids"].shape[1])
            limit = request.max_new_tokens or self.settings.max_new_tokens
            if not self.engine.fits(prompt_tokens, limit):
                log.info(
                    "a %d-token step (+%d new) does not fit the %d-token slots",
                    prompt_tokens,
                    limit,
                    self.engine.state.capacity,
                )
                refused.append(tag)
                continue
            seen = seen_frame(inputs["image_grid_thw"], self.patch_size) if images else None
            joining.append((inputs, limit, (tag, seen, prompt_tokens)))
        if joining:
            self.engine.admit_many(joining)
        return refused

    def step(self) -> None:
        self.engine.step()

    def finished(self) -> list[tuple[Any, Completion]]:
        done = []
        for (tag, seen, prompt), tokens, timings in self.engine.finished():
            done.append((tag, self._completion(tokens, timings, seen, prompt)))
        return done

    def abandon(self) -> list[Any]:
        """Drop every row (after a failed step); the callers' tags."""
        tags = [row.tag[0] for row in self.engine.rows.values()]
        for slot in list(self.engine.rows):
            self.engine.state.active[slot] = False
        self.engine.rows.clear()
        return tags

    def _completion(self, tokens: list[int], timings: Mapping[str, float], seen: Any, prompt: int) -> Completion:
        return Completion(
            text=self.processor.decode(tokens, skip_special_tokens=True).strip(),
            usage=Usage(prompt_tokens=prompt, completion_tokens=len(tokens)),
            timings={**timings, "batch": float(self.engine.state.slots)},
            model=self.settings.model,
            seen_frame=seen,
        )
