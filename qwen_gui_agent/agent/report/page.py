"""``report.html``: one self-contained page per recorded run.

The page carries everything inline (CSS, screenshots as data URLs, SVG
markers) so it can be mailed, attached to a CI job or opened offline. Images
are downscaled and stored as JPEG or PNG, whichever is smaller, to keep a
long run's page a reasonable size. Rendering lives in ``qwen_gui_agent.agent.report.html``.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image

from ..files.images import open_rgb
from ..files.writing import replace_text
from ..records.run_files import RecordedRun, load_run
from .html import EmbeddedImage, render_report

log = logging.getLogger(__name__)

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class ReportSettings:
    max_width: int = 960  # screenshots wider than this are downscaled (aspect kept) ...
    max_height: int = 1280  # ... and so are taller ones (phones in portrait)
    image_format: Literal["auto", "jpeg", "png"] = "auto"  # auto: the smaller encoding per image
    jpeg_quality: int = 72


def write_report(run_dir: Path | str, output: Path | str | None = None, settings: ReportSettings | None = None) -> Path:
    """Render the run in ``run_dir`` to ``output`` (default ``run_dir/report.html``); return the path.

    Raises ``qwen_gui_agent.agent.records.run_files.RunLoadError`` when ``run_dir`` is not a readable run.
    """
    settings = settings or ReportSettings()
    run = load_run(run_dir)
    target = Path(output) if output is not None else run.directory / REPORT_FILE
    page = render_report(run, embed_step_images(run, settings))
    target.parent.mkdir(parents=True, exist_ok=True)  # as --junit does: `-o reports/run-12.html` just works
    replace_text(target, page)  # a reader never sees half a page; a link planted in the run folder is not followed
    log.info("report for %s written to %s (%d bytes)", run.directory, target, len(page))
    return target


def embed_step_images(run: RecordedRun, settings: ReportSettings) -> dict[int, EmbeddedImage]:
    """Step index -> its screenshot as a data URL; steps whose image is missing are left out."""
    images: dict[int, EmbeddedImage] = {}
    for step in run.steps:
        path = run.screenshot_path(step)
        if path is None:
            continue
        try:
            images[step.index] = embed_image(open_rgb(path), settings)  # a regular file, not a decompression bomb
        except OSError as error:
            # A killed run may lack its last image; the step is still reported, without it.
            log.warning("step %d: screenshot %s unreadable: %s", step.index, path, error)
    return images


def embed_image(image: Image.Image, settings: ReportSettings) -> EmbeddedImage:
    image = image.convert("RGB")
    shrink = min(1.0, settings.max_width / image.width, settings.max_height / image.height)
    if shrink < 1.0:
        size = (max(1, round(image.width * shrink)), max(1, round(image.height * shrink)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    candidates = []
    if settings.image_format in ("auto", "jpeg"):
        candidates.append(("image/jpeg", _encode(image, "JPEG", quality=settings.jpeg_quality, optimize=True)))
    if settings.image_format in ("auto", "png"):
        candidates.append(("image/png", _encode(image, "PNG", optimize=True)))
    mime, data = min(candidates, key=lambda candidate: len(candidate[1]))
    url = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return EmbeddedImage(data_url=url, width=image.width, height=image.height, bytes=len(data))


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()
