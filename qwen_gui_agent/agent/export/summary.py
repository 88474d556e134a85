"""What an export is asked for (ExportOptions) and what it wrote (ExportResult): plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...tools.frames import MAX_PIXELS, MIN_PIXELS


@dataclass(frozen=True)
class ExportOptions:
    include_failed: bool = False  # runs that ended other than "success" (failure, stuck, budget ...)
    keep_parse_errors: bool = False  # steps whose answer did not parse
    keep_declined: bool = False  # steps whose action the user declined at --confirm
    first_step: int | None = None
    last_step: int | None = None
    grounding: bool = True  # rows from tap steps


@dataclass(frozen=True)
class Skipped:
    run_id: str
    index: int
    reason: str


@dataclass
class ExportResult:
    output: Path
    runs: list[str] = field(default_factory=list)
    skipped_runs: list[str] = field(default_factory=list)  # "RUN_ID: why"
    action_rows: int = 0
    grounding_rows: int = 0
    corrected_rows: int = 0
    images: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS
    dialects: set[str] = field(default_factory=set)
    longest_row: int = 0  # an upper estimate of the longest row in tokens, for --max_length
    sources: list[str] = field(default_factory=list)  # "RUN_ID/step-N" of each action row, in train.jsonl's order
    grounding_sources: list[str] = field(default_factory=list)  # of each grounding row, in grounding.jsonl's order
    removed_partials: list[str] = field(default_factory=list)  # hidden folders of killed exports, removed

    @property
    def rows(self) -> int:
        return self.action_rows + self.grounding_rows
