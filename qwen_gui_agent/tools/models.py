"""The model registry: one table from a model's name (or its config.json) to how it is prompted and read.

Each ``ModelFamily`` row is data: the dialect its answers are in, its coordinate
convention (pixels of the resized image, or thousandths divided by 1000 or 999),
the patch factor ``smart_resize`` rounds to (patch size x merge size), the pixel
bounds the agent uses by default, and the transformers class the local backend
loads (a name, resolved there: this package imports no torch). The flags
``--dialect``, ``--coords``, ``--min-pixels`` and ``--max-pixels`` still win.

``match_model(name, config)`` says which row a model belongs to and why (``agent
models NAME`` prints it). A local directory is matched by its config.json
(``model_type``, then ``architectures``), a hub / ModelScope / served name by the
patterns below, most specific first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Coordinates = Literal["absolute", "relative"]


@dataclass(frozen=True)
class ModelFamily:
    name: str
    summary: str
    dialect: str  # a name get_dialect knows
    coordinates: Coordinates
    relative_scale: int  # what the far edge is worth in a relative answer (1000, or 999 for Qwen3-VL)
    patch_size: int  # pixels per vision patch side
    merge_size: int  # patches merged per token side
    min_pixels: int  # the agent's default frame bounds (`agent run`)
    max_pixels: int
    processor_max_pixels: int  # the model's own preprocessor cap (`agent parse` reads pasted answers at it)
    model_class: str  # the transformers class the local backend loads
    name_patterns: tuple[str, ...]  # regular expressions on the model id, case-insensitive
    model_types: tuple[str, ...] = ()  # config.json model_type values
    fast_path: bool = False  # whether the local backend's CUDA fast path serves it

    @property
    def patch_factor(self) -> int:
        """What ``smart_resize`` rounds each side to: 28 for Qwen2.5-VL, 32 for Qwen3-VL."""
        return self.patch_size * self.merge_size

    @property
    def coordinates_text(self) -> str:
        if self.coordinates == "absolute":
            return "pixels of the resized image"
        return f"0..{self.relative_scale} relative"


_QWEN25 = dict(patch_size=14, merge_size=2, min_pixels=4 * 28 * 28, max_pixels=1280 * 28 * 28,
               processor_max_pixels=16384 * 28 * 28)
_QWEN3 = dict(patch_size=16, merge_size=2, min_pixels=4 * 32 * 32, max_pixels=1280 * 32 * 32,
              processor_max_pixels=16384 * 32 * 32)

# Most specific first: a fine-tune's name (GUI-Owl, UI-TARS) also contains its base model's.
FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        "gui-owl-1.5", "GUI-Owl-1.5 (mPLUG, built on Qwen3-VL): computer_use/mobile_use, 0..1000", "guiowl",
        "relative", 1000, **_QWEN3, model_class="Qwen3VLForConditionalGeneration",
        name_patterns=(r"gui[-_ ]?owl[-_ ]?1\.5",), fast_path=True,
    ),
    ModelFamily(
        "ui-tars-1.5", "UI-TARS-1.5 (ByteDance, built on Qwen2.5-VL): Thought/Action calls, pixels", "uitars",
        "absolute", 1000, **_QWEN25, model_class="Qwen2_5_VLForConditionalGeneration",
        name_patterns=(r"ui[-_ ]?tars[-_ ]?(1\.5|2)",), fast_path=True,
    ),
    ModelFamily(
        "ui-tars-1.0", "UI-TARS (1.0, built on Qwen2-VL): Thought/Action calls, 0..1000", "uitars",
        "relative", 1000, **_QWEN25, model_class="Qwen2VLForConditionalGeneration",
        name_patterns=(r"ui[-_ ]?tars",),
    ),
    ModelFamily(
        "qwen3.5", "Qwen3.5 (native vision): computer_use/mobile_use as XML tool calls, 0..999", "qwen3.5",
        "relative", 999, **_QWEN3, model_class="Qwen3_5ForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?3[._]5",), model_types=("qwen3_5", "qwen3_5_moe"),
    ),
    ModelFamily(
        "qwen3-vl", "Qwen3-VL: computer_use/mobile_use JSON tool calls, 0..999", "qwen3",
        "relative", 999, **_QWEN3, model_class="Qwen3VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?3[-_ ]?vl",), model_types=("qwen3_vl", "qwen3_vl_moe"), fast_path=True,
    ),
    ModelFamily(
        "qwen2.5-vl", "Qwen2.5-VL-Instruct: computer_use/mobile_use JSON tool calls, pixels", "qwen",
        "absolute", 1000, **_QWEN25, model_class="Qwen2_5_VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?2[._]?5[-_ ]?vl",), model_types=("qwen2_5_vl",), fast_path=True,
    ),
    ModelFamily(
        "qwen2-vl", "Qwen2-VL: tool calls, 0..1000", "qwen",
        "relative", 1000, **_QWEN25, model_class="Qwen2VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?2[-_ ]?vl",), model_types=("qwen2_vl",),
    ),
)

FAMILY_NAMES: tuple[str, ...] = tuple(family.name for family in FAMILIES)
# Architectures name their class; the class names the family (a config without model_type).
_BY_CLASS = {family.model_class: family for family in FAMILIES}
# Fine-tunes keep their base model's config: a UI-TARS directory says qwen2_5_vl, so its name
# decides first and the config only where the name says nothing.
_NAME_FIRST = ("gui-owl-1.5", "ui-tars-1.5", "ui-tars-1.0")


@dataclass(frozen=True)
class ModelMatch:
    family: ModelFamily
    reason: str  # why, in words: "the name matches ...", "config.json model_type ..."


def family_named(name: str) -> ModelFamily:
    """The family called ``name`` (as ``agent models`` lists them)."""
    folded = name.strip().lower()
    for family in FAMILIES:
        if family.name == folded:
            return family
    raise KeyError(f"unknown model family {name!r}; known: {', '.join(FAMILY_NAMES)}")


def match_name(model_id: str) -> ModelMatch | None:
    """The family whose name pattern ``model_id`` matches, most specific first; None when none does."""
    for family in FAMILIES:
        for pattern in family.name_patterns:
            found = re.search(pattern, model_id or "", re.IGNORECASE)
            if found:
                return ModelMatch(family, f"the name {model_id!r} contains {found.group(0)!r}")
    return None


def match_config(config: Mapping[str, object]) -> ModelMatch | None:
    """The family a config.json describes: by ``model_type``, else by ``architectures``."""
    model_type = config.get("model_type")
    for family in FAMILIES:
        if isinstance(model_type, str) and model_type in family.model_types:
            return ModelMatch(family, f"config.json has model_type {model_type!r}")
    architectures = config.get("architectures")
    for architecture in architectures if isinstance(architectures, list) else []:
        if architecture in _BY_CLASS:
            return ModelMatch(_BY_CLASS[architecture], f"config.json names the architecture {architecture!r}")
    return None


def read_config(directory: Path) -> dict[str, object] | None:
    """A model directory's config.json, or None when there is none (or it is not a JSON object)."""
    path = directory / "config.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def match_model(model_id: str, config: Mapping[str, object] | None = None) -> ModelMatch | None:
    """Which family ``model_id`` is, and why; None when neither its name nor its config says.

    ``config`` is the model directory's config.json when there is one (see ``read_config``).
    A fine-tune's name (UI-TARS, GUI-Owl) wins over its config, which names its base model.
    """
    by_name = match_name(model_id)
    if by_name is not None and by_name.family.name in _NAME_FIRST:
        return by_name
    by_config = match_config(config) if config else None
    return by_config or by_name


def match_model_or_directory(model_id: str) -> ModelMatch | None:
    """``match_model`` with the config.json of ``model_id`` when it is a local directory."""
    path = Path(model_id).expanduser()
    config = read_config(path) if path.is_dir() else None
    return match_model(model_id, config)


def family_for_dialect(dialect: str) -> ModelFamily:
    """The family a dialect was made for (its first row): whose frame rules apply when only the dialect is known."""
    for family in FAMILIES:
        if family.dialect == dialect:
            return family
    raise KeyError(f"no model family speaks the dialect {dialect!r}")
