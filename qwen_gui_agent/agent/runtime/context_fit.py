"""Fitting a goal step's prompt into the server's context, and what a step records of its backend.

When the backend says the prompt does not fit (``ContextOverflow``: an HTTP 400 that names the
limit, or its own estimate against a known limit), the history is trimmed and the question asked
once more:

1. history screenshots go first, oldest first, as many as the missing tokens need (each costs its
   image tokens exactly); all of them when the refusal did not say how many tokens are missing;
2. then the oldest earlier steps (their answers and feedback), if the screenshots were not enough.

The smaller image window is kept for the rest of the goal, so the next steps do not overflow
again. What was dropped goes into the step's record (``serving.context_trim``) and note. If the
trimmed prompt still does not fit, the run ends with a ``ContextOverflow`` that says so and names
what to change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ...tools.dialects.base import HistoryStep
from ...tools.messages import Message
from ..backends.base import Completion
from ..backends.context_limits import FIT_HINT, ContextOverflow
from ..backends.image_tokens import IMAGE_MARKERS, image_tokens
from .history import History

log = logging.getLogger(__name__)

MARGIN_TOKENS = 16  # freed beyond the stated excess: a refusal's count and ours may differ by a marker or two
CHARS_PER_TOKEN = 3  # a cautious guess for the text of a dropped step (English BPE is nearer 4)
# Completion.timings entries that are milliseconds (the fast path also reports counts there).
_MS_PHASES = frozenset({"encode", "request", "preprocess", "first_token", "decode", "vision", "warm_up", "total"})


def record_backend_facts(timings_ms: dict[str, float], serving: dict[str, Any], completion: Completion) -> None:
    """Copy what the backend measured into the step: its phase times as ``model_<phase>`` timings, the rest
    (token counts, the server's frame, structured output) under ``serving``."""
    for phase, value in completion.timings.items():
        if phase in _MS_PHASES:
            timings_ms[f"model_{phase}"] = round(float(value), 2)
        else:
            serving[phase] = value
    serving.update(completion.serving)


@dataclass(frozen=True)
class Trim:
    steps: tuple[HistoryStep, ...]
    images_dropped: int
    steps_dropped: int

    def describe(self) -> str:
        parts = []
        if self.images_dropped:
            parts.append(f"{self.images_dropped} history screenshot(s)")
        if self.steps_dropped:
            parts.append(f"{self.steps_dropped} earlier step(s)")
        return " and ".join(parts)


def trim_history(steps: Sequence[HistoryStep], excess: int | None, factor: int) -> Trim | None:
    """The history with enough dropped to free ``excess`` tokens (unknown: every screenshot); None if nothing can go."""
    needed = None if excess is None else excess + MARGIN_TOKENS
    kept = list(steps)
    freed = images = dropped_steps = 0
    for position, step in enumerate(kept):  # oldest first
        if needed is not None and freed >= needed:
            break
        if step.image is not None:
            freed += image_tokens(*step.image.size, factor) + IMAGE_MARKERS
            kept[position] = replace(step, image=None)
            images += 1
    while needed is not None and freed < needed and len(kept) > 1:
        step = kept.pop(0)
        freed += (len(step.answer) + len(step.action_text) + len(step.feedback)) // CHARS_PER_TOKEN
        dropped_steps += 1
    if images == 0 and dropped_steps == 0:
        return None
    return Trim(steps=tuple(kept), images_dropped=images, steps_dropped=dropped_steps)


def ask_within_context(
    ask: Callable[[list[Message]], Completion],
    build: Callable[[Sequence[HistoryStep]], list[Message]],
    history: History,
    serving: dict[str, Any],
    on_trim: Callable[[str], None],
    factor: int,
) -> Completion:
    """``ask(build(history))``; on ContextOverflow, trim the history, keep the smaller window, ask once more."""
    steps = history.steps()
    try:
        return ask(build(steps))
    except ContextOverflow as overflow:
        trim = trim_history(steps, overflow.excess, factor)
        if trim is None:
            raise ContextOverflow(
                f"{overflow.detail}; there is no history left to drop: the task, the current "
                "screenshot and the answer budget alone are too long",
                limit=overflow.limit,
                needed=overflow.needed,
                source=overflow.source,
                hint=FIT_HINT,
            ) from None
        window = 1 + sum(step.image is not None for step in trim.steps)
        history.shrink_image_window(window)
        limit = f"{overflow.limit}-token" if overflow.limit is not None else "server's"
        note = f"trimmed the prompt to fit the {limit} context ({overflow.source}): dropped {trim.describe()}"
        serving["context_trim"] = {
            "limit": overflow.limit,
            "needed": overflow.needed,
            "source": overflow.source,
            "history_images_dropped": trim.images_dropped,
            "history_steps_dropped": trim.steps_dropped,
            "image_window": window,
        }
        log.warning("%s", note)
        on_trim(note)
        try:
            return ask(build(trim.steps))
        except ContextOverflow as again:
            raise ContextOverflow(
                f"the prompt still does not fit after dropping {trim.describe()}: {again.detail}",
                limit=again.limit,
                needed=again.needed,
                source=again.source,
                hint=FIT_HINT,
            ) from None
