"""A runaway answer, cut to a size the run can afford to keep, with a note that says it was cut.

A model that never stops (or a server that pads its reply) can answer megabytes.
Kept whole, that text is written to steps.jsonl, embedded in report.html and
sent back to the model with every later prompt. It is cut once, where the
answer enters the run, so every copy is the short one; the note at the end
says how long it really was. The default stays above the dialects' own bound
(``MAX_ANSWER_CHARS``), so a cut answer never parses as if it were whole: the
model is told it was too long.
"""

from __future__ import annotations

import logging

from ...tools.dialects.base import MAX_ANSWER_CHARS

log = logging.getLogger(__name__)

DEFAULT_MAX_ANSWER_CHARS = max(20_000, 2 * MAX_ANSWER_CHARS)


def capped_answer(text: str, limit: int) -> str:
    """``text`` itself, or its first ``limit`` characters and a note with the full length."""
    if len(text) <= limit:
        return text
    log.warning("the model's answer is %s characters long; keeping the first %s", f"{len(text):,}", f"{limit:,}")
    return text[:limit] + f"\n[answer cut: {len(text):,} characters, the first {limit:,} kept]"
