"""Grounding data sets in their published layouts: ScreenSpot, ScreenSpot-v2 and ScreenSpot-Pro.

ScreenSpot and ScreenSpot-v2 ship one JSON array per platform (``screenspot_mobile.json``,
``screenspot_desktop_v2.json`` ...) whose items hold ``img_filename``, ``instruction``, ``bbox`` as
``[x, y, width, height]`` in pixels, ``data_type`` (text or icon) and ``data_source`` (ios, windows,
gitlab ...); the platform is in the file's name. ScreenSpot-Pro ships ``annotations/<app>_<os>.json``
whose items hold ``img_filename``, ``instruction``, ``bbox`` as ``[x1, y1, x2, y2]``, ``img_size``,
``ui_type``, ``group`` (Dev, Creative, CAD ...), ``platform`` and ``application``; images live in
``images/``. A ``.jsonl`` file with the same fields, one item a line, is read too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ...files.paths import PathEscape, inside, is_file_quietly
from ..items import Box, DataFileError, DataProblem, box_numbers, json_records

BoxLayout = Literal["auto", "xywh", "xyxy"]
# Image folders the published archives unpack to, tried after the annotation file's own folder.
IMAGE_FOLDERS = ("images", "screenspot_imgs", "screenspotv2_image", "imgs")
_PLATFORM_IN_NAME = re.compile(r"screenspot_(mobile|desktop|web)", re.IGNORECASE)


@dataclass(frozen=True)
class GroundingItem:
    """One "click this element" question with its answer box (screenshot pixels)."""

    id: str
    image: Path
    instruction: str
    box: Box
    # What the published tables break accuracy down by: platform and ui_type (ScreenSpot),
    # group, application and ui_type (ScreenSpot-Pro). Ordered: the first is the main breakdown.
    groups: dict[str, str] = field(default_factory=dict)
    where: str = ""  # file:line, for messages

    @property
    def device(self) -> str:
        return "mobile" if self.groups.get("platform", "").lower() in ("mobile", "android", "ios") else "computer"


@dataclass(frozen=True)
class GroundingSet:
    items: tuple[GroundingItem, ...]
    problems: tuple[DataProblem, ...]
    files: tuple[Path, ...]


def annotation_files(data: Path) -> list[Path]:
    """The annotation files DATA names: itself, ``annotations/*.json`` of a ScreenSpot-Pro folder, or a folder's files."""
    if data.is_file():
        return [data]
    if not data.is_dir():
        raise FileNotFoundError(f"no such file or folder: {data}")
    folder = data / "annotations" if (data / "annotations").is_dir() else data
    files = sorted(path for path in folder.iterdir() if path.suffix.lower() in (".json", ".jsonl") and path.is_file())
    if not files:
        raise FileNotFoundError(f"{folder} holds no .json or .jsonl annotation files")
    return files


def load_grounding_set(data: Path, *, images: Path | None = None, box_layout: BoxLayout = "auto") -> GroundingSet:
    """Every item of every annotation file, and a problem for each one that cannot be used."""
    items: list[GroundingItem] = []
    problems: list[DataProblem] = []
    files = annotation_files(data)
    boundary = _ImageFinder(images if images is not None else data_folder(data))
    for path in files:
        roots = _image_roots(path, boundary.folder, images)
        try:
            for index, (line, value) in enumerate(json_records(path)):
                item_id = f"{path.stem}:{index}"
                if isinstance(value, DataFileError):
                    problems.append(DataProblem(item_id, str(path), value.line, value.reason))
                    continue
                try:
                    items.append(_item(value, item_id, path, line, roots, boundary, box_layout))
                except ValueError as error:
                    problems.append(DataProblem(item_id, str(path), line, str(error)))
        except DataFileError as error:
            problems.append(DataProblem(f"{path.stem}:file", str(path), error.line, error.reason))
    return GroundingSet(items=tuple(items), problems=tuple(problems), files=tuple(files))


def data_folder(data: Path) -> Path:
    """The folder a data set's images must lie in: DATA itself, or the folder of an annotation file (the one above
    ``annotations/`` for ScreenSpot-Pro's layout). Nothing outside it is read, sent to the model or embedded."""
    if data.is_dir():
        return data
    return data.parent.parent if data.parent.name == "annotations" else data.parent


def _image_roots(path: Path, boundary: Path, images: Path | None) -> list[Path]:
    if images is not None:
        return [images]
    bases = list(dict.fromkeys([path.parent, boundary]))
    return [*bases, *(base / name for base in bases for name in IMAGE_FOLDERS)]


def _item(
    value: object, item_id: str, path: Path, line: int, roots: Sequence[Path], boundary: _ImageFinder, layout: BoxLayout
) -> GroundingItem:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object with img_filename, instruction and bbox, got {type(value).__name__}")
    filename = _text(value, "img_filename")
    instruction = _text(value, "instruction")
    box = _box(value.get("bbox"), "xyxy" if layout == "auto" and "img_size" in value else layout)
    image = boundary.find(filename, roots)
    return GroundingItem(
        id=item_id, image=image, instruction=instruction, box=box, groups=_groups(value, path), where=f"{path}:{line}"
    )


class _ImageFinder:
    """Finds each item's image in its roots, inside ``folder`` only; a screenshot many items share is looked up once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._resolved = folder.resolve()
        self._found: dict[tuple[str, tuple[Path, ...]], Path] = {}

    def find(self, filename: str, roots: Sequence[Path]) -> Path:
        """The first root holding ``filename``; ValueError for a name that leads out of the data folder (``..``, an
        absolute path, a link that points away), which is never read."""
        key = (filename, tuple(roots))
        if key not in self._found:
            self._found[key] = self._look(filename, roots)
        return self._found[key]

    def _look(self, filename: str, roots: Sequence[Path]) -> Path:
        for root in roots:
            try:
                candidate = inside(
                    self.folder, str(root.relative_to(self.folder) / filename), resolved_folder=self._resolved
                )
            except PathEscape as error:
                raise ValueError(
                    f"img_filename {error}: images must lie inside the data folder {self.folder} "
                    "(or the --images folder)"
                ) from None
            if is_file_quietly(candidate):
                return candidate
        raise ValueError(
            f"image {filename} not found (looked in {', '.join(str(root) for root in roots[:3])} ...): "
            "pass --images FOLDER if the images are elsewhere"
        )


def _text(value: dict, key: str) -> str:
    text = value.get(key)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{key} is missing or empty")
    return text


def _box(raw: object, layout: BoxLayout) -> Box:
    a, b, c, d = box_numbers(raw, "bbox")
    if layout == "xyxy":
        box = Box(a, b, c, d)
    else:  # ScreenSpot's x, y, width, height
        box = Box(a, b, a + c, b + d)
    if box.x2 < box.x1 or box.y2 < box.y1:
        raise ValueError(f"bbox {raw!r} has a negative size as {'x1,y1,x2,y2' if layout == 'xyxy' else 'x,y,w,h'}")
    return box


def _groups(value: dict, path: Path) -> dict[str, str]:
    if "group" in value or "application" in value:  # ScreenSpot-Pro
        keys = ("group", "application", "platform", "ui_type")
        return {key: str(value[key]) for key in keys if value.get(key) is not None}
    name = _PLATFORM_IN_NAME.search(path.name)
    platform = value.get("platform") or (name.group(1).lower() if name else path.stem)
    groups = {"platform": str(platform)}
    if value.get("data_type") is not None:
        groups["ui_type"] = str(value["data_type"])
    if value.get("data_source") is not None:
        groups["source"] = str(value["data_source"])
    return groups
