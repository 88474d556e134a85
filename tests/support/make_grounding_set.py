"""A small grounding data set in the published layouts, drawn with Pillow: screens with known boxes.

``make_screenspot(folder)`` writes ScreenSpot(-v2)'s layout: ``screenspot_<platform>_v2.json`` arrays
of ``{img_filename, bbox: [x, y, w, h], instruction, data_type, data_source}`` with the images in
``screenspotv2_image/``. ``make_screenspot_pro(folder)`` writes ScreenSpot-Pro's: ``annotations/<app>_<os>.json``
arrays of ``{id, img_filename, bbox: [x1, y1, x2, y2], img_size, instruction, instruction_cn, ui_type,
group, platform, application}`` with the images in ``images/<app>/``. Both return what they drew, so
tests know every box. Run as a script to write both into a folder:

    python3 -m tests.support.make_grounding_set /tmp/grounding
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

LABELS = ("Search", "Settings", "Back", "Save", "Open", "Close", "Share", "Print", "Undo", "Help", "Send", "Menu")
SHAPES = ("circle", "triangle", "square")
COLOURS = ("navy", "darkgreen", "maroon", "purple", "teal", "darkorange")


@dataclass(frozen=True)
class DrawnItem:
    file: str  # the annotation file, relative to the folder
    index: int  # position in that file
    image: str  # path relative to the folder
    size: tuple[int, int]
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels (both edges inside)
    groups: dict[str, str]

    @property
    def id(self) -> str:
        return f"{Path(self.file).stem}:{self.index}"

    @property
    def centre(self) -> tuple[int, int]:
        return (self.box[0] + self.box[2]) // 2, (self.box[1] + self.box[3]) // 2


# (platform, data_source, screen size, screens, elements per screen)
SCREENSPOT_PLATFORMS = (
    ("mobile", "android", (540, 1200), 2, 2),
    ("desktop", "windows", (1280, 800), 2, 2),
    ("web", "gitlab", (1024, 768), 1, 3),
)
# (application, group, platform, screen size, screens, elements per screen)
PRO_APPS = (("vscode", "Dev", "macos", (2560, 1440), 2, 2), ("photoshop", "Creative", "windows", (1920, 1080), 1, 3))


def make_screenspot(folder: Path | str, *, seed: int = 0) -> list[DrawnItem]:
    folder = Path(folder)
    rng = random.Random(seed)
    drawn: list[DrawnItem] = []
    for platform, source, size, screens, per_screen in SCREENSPOT_PLATFORMS:
        name = f"screenspot_{platform}_v2.json"
        entries: list[dict[str, object]] = []
        for screen in range(screens):
            image_name = f"{platform}_{screen}.png"
            boxes = _draw_screen(folder / "screenspotv2_image" / image_name, size, per_screen, rng)
            for box, label, kind in boxes:
                x1, y1, x2, y2 = box
                entries.append(
                    {
                        "img_filename": image_name,
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "instruction": _instruction(label, kind),
                        "data_type": kind,
                        "data_source": source,
                    }
                )
                drawn.append(
                    DrawnItem(
                        name,
                        len(entries) - 1,
                        f"screenspotv2_image/{image_name}",
                        size,
                        box,
                        {"platform": platform, "ui_type": kind, "source": source},
                    )
                )
        _write_json(folder / name, entries)
    return drawn


def make_screenspot_pro(folder: Path | str, *, seed: int = 1) -> list[DrawnItem]:
    folder = Path(folder)
    rng = random.Random(seed)
    drawn: list[DrawnItem] = []
    for app, group, platform, size, screens, per_screen in PRO_APPS:
        name = f"annotations/{app}_{platform}.json"
        entries: list[dict[str, object]] = []
        for screen in range(screens):
            image_name = f"{app}_{platform}/screen_{screen}.png"
            boxes = _draw_screen(folder / "images" / image_name, size, per_screen, rng)
            for box, label, kind in boxes:
                entries.append(
                    {
                        "id": f"{app}_{len(entries)}",
                        "img_filename": image_name,
                        "bbox": list(box),
                        "img_size": list(size),
                        "instruction": _instruction(label, kind),
                        "instruction_cn": f"点击{label}",
                        "ui_type": kind,
                        "group": group,
                        "platform": platform,
                        "application": app,
                    }
                )
                drawn.append(
                    DrawnItem(
                        name,
                        len(entries) - 1,
                        f"images/{image_name}",
                        size,
                        box,
                        {"group": group, "application": app, "platform": platform, "ui_type": kind},
                    )
                )
        _write_json(folder / name, entries)
    return drawn


def _instruction(label: str, kind: str) -> str:
    return f"the {label} button" if kind == "text" else f"the {label.lower()} icon"


def _draw_screen(
    path: Path, size: tuple[int, int], count: int, rng: random.Random
) -> list[tuple[tuple[int, int, int, int], str, str]]:
    """A light screen with ``count`` non-overlapping elements in separate horizontal bands."""
    width, height = size
    image = Image.new("RGB", size, (244, 244, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, max(20, height // 30)), fill=(60, 60, 70))  # a title bar
    band = height // (count + 1)
    placed = []
    labels = rng.sample(LABELS, count)
    for number, label in enumerate(labels):
        box_w = rng.randint(width // 12, width // 5)
        box_h = rng.randint(max(16, band // 6), max(24, band // 3))
        x1 = rng.randint(4, width - box_w - 5)
        y1 = band * (number + 1) - box_h // 2
        box = (x1, y1, x1 + box_w - 1, y1 + box_h - 1)
        kind = "text" if number % 2 == 0 else "icon"
        colour = rng.choice(COLOURS)
        if kind == "text":
            draw.rectangle(box, fill="white", outline=colour, width=2)
            draw.text((box[0] + 6, box[1] + 4), label, fill=colour)
        else:
            _draw_icon(draw, box, rng.choice(SHAPES), colour)
        placed.append((box, label, kind))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return placed


def _draw_icon(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], shape: str, colour: str) -> None:
    x1, y1, x2, y2 = box
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([((x1 + x2) // 2, y1), (x2, y2), (x1, y2)], fill=colour)
    else:
        draw.rectangle(box, fill=colour)


def _write_json(path: Path, entries: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python3 -m tests.support.make_grounding_set FOLDER\n")
        return 2
    root = Path(argv[0])
    spot = make_screenspot(root / "screenspot_v2")
    pro = make_screenspot_pro(root / "screenspot_pro")
    sys.stdout.write(
        f"{len(spot)} ScreenSpot-v2 items in {root / 'screenspot_v2'}, "
        f"{len(pro)} ScreenSpot-Pro items in {root / 'screenspot_pro'}\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
