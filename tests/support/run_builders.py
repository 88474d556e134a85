"""Recorded runs written with the real ``RunWriter``, for report and replay tests.

The screenshots are drawn here (coloured boxes at known places) so a test can
say where a marker must land.
"""

from __future__ import annotations

import time
from pathlib import Path

from PIL import Image, ImageDraw

from qwen_gui_agent.agent.records.run_files import (
    ErrorRecord,
    ExecutedRecord,
    FrameRecord,
    GeometryRecord,
    RunInfo,
    RunWriter,
    StepRecord,
)


def screen_image(width: int, height: int, boxes: tuple[tuple[int, int, int, int], ...] = ()) -> Image.Image:
    image = Image.new("RGB", (width, height), (236, 240, 244))
    draw = ImageDraw.Draw(image)
    for number, box in enumerate(boxes):
        draw.rectangle(box, fill=((40 * number) % 255, 90, 200))
    return image


def new_writer(
    directory: Path,
    *,
    task: str = "a test task",
    dialect: str = "uitars",
    device: dict | None = None,
    frame_settings: dict | None = None,
) -> RunWriter:
    info = RunInfo(
        run_id=directory.name,
        task=task,
        dialect=dialect,
        started_at=time.time(),
        model={"backend": "scripted", "name": "test"},
        device=device if device is not None else {"kind": "computer", "name": "test", "platform": "x11"},
        frame_settings=frame_settings if frame_settings is not None else {"min_pixels": 3136, "max_pixels": 12845056},
    )
    return RunWriter(directory, info)


def add_step(
    writer: RunWriter,
    index: int,
    *,
    image: Image.Image | None,
    geometry: GeometryRecord | None,
    frame: FrameRecord | None,
    answer: str = "",
    thought: str = "",
    actions: list[str] | None = None,
    executed: list[ExecutedRecord] | None = None,
    error: ErrorRecord | None = None,
    feedback: str = "",
    kind: str = "ai",
) -> StepRecord:
    screenshot = writer.save_image(index, image) if image is not None else None
    step = StepRecord(
        index=index,
        started_at=time.time(),
        kind=kind,
        screenshot=screenshot,
        geometry=geometry,
        frame=frame,
        prompt_tokens=1500 + index,
        completion_tokens=20 + index,
        answer=answer,
        thought=thought,
        actions=actions or [],
        executed=executed or [],
        timings_ms={"capture": 12.5, "model": 800.0 + index, "execute": 40.0, "total": 900.0},
        error=error,
        feedback=feedback,
    )
    writer.append(step)
    return step


def three_step_run(
    directory: Path, answer_one: str = "Thought: open the menu\nAction: click(start_box='(644,406)')"
) -> Path:
    """A desktop run at 1280x800 (frame 1288x812): a click, a drag, then finished."""
    writer = new_writer(directory, task="sort the files by name")
    geometry = GeometryRecord(width=1280, height=800)
    frame = FrameRecord(width=1288, height=812)
    image = screen_image(1280, 800, ((600, 380, 680, 430), (100, 100, 200, 140)))
    add_step(
        writer,
        1,
        image=image,
        geometry=geometry,
        frame=frame,
        answer=answer_one,
        thought="open the menu",
        actions=["click(start_box='(644,406)')"],
        executed=[ExecutedRecord(action="click(start_box='(640,400)')", commands=["click x=640 y=400 button=left"])],
    )
    add_step(
        writer,
        2,
        image=image,
        geometry=geometry,
        frame=frame,
        answer="Thought: drag it\nAction: drag(start_box='(150,120)', end_box='(644,406)')",
        thought="drag it",
        actions=["drag(start_box='(150,120)', end_box='(644,406)')"],
        executed=[
            ExecutedRecord(
                action="drag(start_box='(149,118)', end_box='(640,400)')",
                commands=["drag from=149,118 to=640,400 duration=0.5 button=left"],
            )
        ],
    )
    add_step(
        writer,
        3,
        image=image,
        geometry=geometry,
        frame=frame,
        answer="Thought: done\nAction: finished(content='sorted')",
        thought="done",
        actions=["finished(content='sorted')"],
    )
    writer.update(status="success", message="sorted", ended_at=time.time())
    writer.close()
    return directory
