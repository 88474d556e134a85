"""The model registry: one table from a model's name (or its config.json) to how it is prompted and read.

Each ``ModelFamily`` row is data: the dialect its answers are in, its coordinate
convention (pixels of the resized image, or thousandths divided by 1000 or 999),
its frame bounds as one value (the pixel bounds the agent resizes to by default and
the factor ``smart_resize`` rounds to, patch size x merge size), the bounds of the
checkpoint's own preprocessor (what a standard server resizes to), and the
transformers class the local backend loads (a name, resolved there: this package
imports no torch).

``model_setup(name, ...)`` is the one place a model name plus the user's overrides
(``--dialect``, ``--coords``, ``--min-pixels``, ``--max-pixels``) become the dialect,
coordinates and frame bounds a run uses: the CLI, the Python API, eval, replay and
export all ask it. ``match_model(name, config)`` says which row a model belongs to
and why (``agent models NAME`` prints it). A local directory is matched by its
config.json (``model_type``, then ``architectures``), a hub / ModelScope / served
name by the patterns below, most specific first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict

from .frames import FrameBounds

Coordinates = Literal["absolute", "relative"]

DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
# Short names users may type instead of a hub id (matched case-insensitively).
MODEL_SHORT_NAMES = {
    "3b": "Qwen/Qwen2.5-VL-3B-Instruct",
    "7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "32b": "Qwen/Qwen2.5-VL-32B-Instruct",
    "72b": "Qwen/Qwen2.5-VL-72B-Instruct",
    "ui-tars-1.5-7b": "ByteDance-Seed/UI-TARS-1.5-7B",
}


@dataclass(frozen=True)
class ModelFamily:
    name: str
    summary: str
    dialect: str  # a name get_dialect knows
    coordinates: Coordinates
    relative_scale: int  # what the far edge is worth in a relative answer (1000, or 999 for Qwen3-VL)
    patch_size: int  # pixels per vision patch side
    merge_size: int  # patches merged per token side
    frame: FrameBounds  # what the agent resizes screenshots to by default (`agent run`)
    # The checkpoint's own preprocessor bounds: what a server that was not told ours resizes to (the
    # resize check counts its tokens with them; `agent parse` reads pasted answers at them).
    processor_frame: FrameBounds
    model_class: str  # the transformers class the local backend loads
    name_patterns: tuple[str, ...]  # regular expressions on the model id, case-insensitive
    model_types: tuple[str, ...] = ()  # config.json model_type values
    fast_path: bool = False  # whether the local backend's CUDA fast path serves it

    def __post_init__(self) -> None:
        factor = self.patch_size * self.merge_size
        if self.frame.factor != factor or self.processor_frame.factor != factor:
            raise ValueError(f"{self.name}: frame factors must be patch size x merge size ({factor})")

    @property
    def patch_factor(self) -> int:
        """What ``smart_resize`` rounds each side to: 28 for Qwen2.5-VL, 32 for Qwen3-VL."""
        return self.frame.factor

    @property
    def coordinates_text(self) -> str:
        if self.coordinates == "absolute":
            return "pixels of the resized image"
        return f"0..{self.relative_scale} relative"


class _VisionGeometry(TypedDict):
    """The vision-tower fields a base model passes on to every family built on it (splatted into rows)."""

    patch_size: int
    merge_size: int
    frame: FrameBounds
    processor_frame: FrameBounds


# Qwen2.5-VL's preprocessor: min_pixels 56x56, max_pixels 16384 tokens; deployments often cap at 1280 tokens.
_QWEN25 = _VisionGeometry(
    patch_size=14,
    merge_size=2,
    frame=FrameBounds(4 * 28 * 28, 1280 * 28 * 28, 28),
    processor_frame=FrameBounds(4 * 28 * 28, 16384 * 28 * 28, 28),
)
# Qwen3-VL's preprocessor_config.json: size.shortest_edge 65536 (64 tokens), size.longest_edge 16777216 (16384
# tokens). The agent's floor is the checkpoint's, so a server's own resize is the identity for every image we send.
_QWEN3 = _VisionGeometry(
    patch_size=16,
    merge_size=2,
    frame=FrameBounds(64 * 32 * 32, 1280 * 32 * 32, 32),
    processor_frame=FrameBounds(64 * 32 * 32, 16384 * 32 * 32, 32),
)

# Most specific first: a fine-tune's name (GUI-Owl, UI-TARS) also contains its base model's.
FAMILIES: tuple[ModelFamily, ...] = (
    ModelFamily(
        "gui-owl-1.5",
        "GUI-Owl-1.5 (mPLUG, built on Qwen3-VL): computer_use/mobile_use, 0..1000",
        "guiowl",
        "relative",
        1000,
        **_QWEN3,
        model_class="Qwen3VLForConditionalGeneration",
        name_patterns=(r"gui[-_ ]?owl[-_ ]?1\.5",),
        fast_path=True,
    ),
    ModelFamily(
        "ui-tars-1.5",
        "UI-TARS-1.5 (ByteDance, built on Qwen2.5-VL): Thought/Action calls, pixels",
        "uitars",
        "absolute",
        1000,
        **_QWEN25,
        model_class="Qwen2_5_VLForConditionalGeneration",
        name_patterns=(r"ui[-_ ]?tars[-_ ]?(1\.5|2)",),
        fast_path=True,
    ),
    ModelFamily(
        "ui-tars-1.0",
        "UI-TARS (1.0, built on Qwen2-VL): Thought/Action calls, 0..1000",
        "uitars",
        "relative",
        1000,
        **_QWEN25,
        model_class="Qwen2VLForConditionalGeneration",
        name_patterns=(r"ui[-_ ]?tars",),
    ),
    ModelFamily(
        "qwen3.5",
        "Qwen3.5 (native vision): computer_use/mobile_use as XML tool calls, 0..999",
        "qwen3.5",
        "relative",
        999,
        **_QWEN3,
        model_class="Qwen3_5ForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?3[._]5",),
        model_types=("qwen3_5", "qwen3_5_moe"),
    ),
    ModelFamily(
        "qwen3-vl",
        "Qwen3-VL: computer_use/mobile_use JSON tool calls, 0..999",
        "qwen3",
        "relative",
        999,
        **_QWEN3,
        model_class="Qwen3VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?3[-_ ]?vl",),
        model_types=("qwen3_vl", "qwen3_vl_moe"),
        fast_path=True,
    ),
    ModelFamily(
        "qwen2.5-vl",
        "Qwen2.5-VL-Instruct: computer_use/mobile_use JSON tool calls, pixels",
        "qwen",
        "absolute",
        1000,
        **_QWEN25,
        model_class="Qwen2_5_VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?2[._]?5[-_ ]?vl",),
        model_types=("qwen2_5_vl",),
        fast_path=True,
    ),
    ModelFamily(
        "qwen2-vl",
        "Qwen2-VL: tool calls, 0..1000",
        "qwen",
        "relative",
        1000,
        **_QWEN25,
        model_class="Qwen2VLForConditionalGeneration",
        name_patterns=(r"qwen[-_ ]?2[-_ ]?vl",),
        model_types=("qwen2_vl",),
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


def resolve_model_name(name: str) -> str:
    """A short name's full hub id (``7b``); anything else (hub id, path, served name) unchanged."""
    return MODEL_SHORT_NAMES.get(name.strip().lower(), name.strip())


# The family whose rules apply to a model nobody names: Qwen2.5-VL's, as the default model is.
DEFAULT_FAMILY = "qwen2.5-vl"


@dataclass(frozen=True)
class ModelSetup:
    """How a run prompts and reads one model: what ``model_setup`` decided, and from what."""

    model: str  # the full name (a short name resolved)
    match: ModelMatch | None  # the registry's row for the model, and why; None when unknown
    family: ModelFamily  # the row whose rules apply: the match's, the dialect's, or the default's
    dialect: str
    coordinates: Coordinates
    frame: FrameBounds


def model_setup(
    model: str | None,
    *,
    dialect: str | None = None,
    coordinates: Coordinates | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> ModelSetup:
    """A model name plus the user's overrides -> the dialect, coordinates and frame bounds a run uses.

    The model's family (by name, or by a local directory's config.json) gives the defaults; given
    values win. A model the registry does not know, named with a dialect, gets the frame of the
    family that dialect was made for (a Qwen3-VL served as "my-model" with dialect qwen3: thousandths,
    factor 32); with neither, Qwen2.5-VL's rules. ``model`` None: no model named (`agent parse` with
    only a dialect), so the dialect's family decides.
    """
    name = resolve_model_name(model) if model else ""
    match = match_model_or_directory(name) if name else None
    if match is not None:
        family = match.family
    else:
        try:
            family = family_for_dialect(dialect) if dialect else family_named(DEFAULT_FAMILY)
        except KeyError:  # a dialect no family was made for (a new one): Qwen2.5-VL's frame rules
            family = family_named(DEFAULT_FAMILY)
    chosen_dialect = dialect or (match.family.dialect if match else family.dialect)
    return ModelSetup(
        model=name,
        match=match,
        family=family,
        dialect=chosen_dialect,
        coordinates=coordinates or family.coordinates,
        frame=family.frame.with_pixels(min_pixels, max_pixels),
    )


def processor_frame_for_factor(factor: int) -> FrameBounds:
    """The preprocessor bounds of the first family whose patch factor is ``factor`` (28: Qwen2.5-VL's)."""
    for family in FAMILIES:
        if family.patch_factor == factor:
            return family.processor_frame
    raise KeyError(f"no model family has patch factor {factor}")
