"""The recorded steps ``agent eval steps`` scores: our run directories and AndroidControl-style episodes.

A run directory (``run.json`` + ``steps.jsonl``, or a folder of them) gives one item per ``ai`` step
that ran an action: the step's first action, mapped from its recorded frame to screenshot pixels, is
the expected answer. An episode file (``.json``: one episode or a list; ``.jsonl``: one a line) holds
``goal``, ``screenshots`` (paths relative to the file, one per step, as AndroidControl's) and
``actions``: AndroidControl's JSON actions (``{"action_type": "click", "x": .., "y": ..}``,
``long_press``, ``scroll`` with ``direction``, ``input_text`` with ``text``, ``open_app`` with
``app_name``, ``navigate_back``, ``navigate_home``, ``wait``) or our canonical action text, points
in screenshot pixels; optionally ``boxes``: the target element's ``[x1, y1, x2, y2]`` per step, or null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ....tools.actions import (
    Action,
    Click,
    LongPress,
    OpenApp,
    Point,
    PressBack,
    PressHome,
    Scroll,
    Type,
    Wait,
)
from ....tools.canonical import format_action, parse_action
from ....tools.errors import ActionParseError
from ....tools.frames import ModelFrame, ScreenGeometry, map_action
from ...files.bounded_json import JsonLimitError, loads_bounded
from ...files.paths import PathEscape, inside, is_file_quietly
from ...files.reading import read_regular
from ...records.run_files import RUN_FILE, STEPS_FILE, RecordedRun, RunLoadError, load_run
from ...runtime.recorded_prompts import PARSED_KINDS
from ...runtime.secrets import referenced_names
from ..items import DATA_LIMITS, MAX_DATA_FILE_BYTES, Box, DataFileError, DataProblem, box_numbers, json_records


@dataclass(frozen=True)
class Episode:
    """An AndroidControl-style episode: the goal, one screenshot and one action (screenshot pixels) a step."""

    goal: str
    screenshots: tuple[Path, ...]
    actions: tuple[Action, ...]
    device: str = "mobile"


@dataclass(frozen=True)
class StepItem:
    id: str
    where: str  # file:line
    goal: str
    image: Path
    expected: Action  # screenshot pixels
    box: Box | None = None  # the target element, where known
    groups: dict[str, str] = field(default_factory=dict)
    run: RecordedRun | None = None  # the source: a recorded run (position into run.steps) ...
    episode: Episode | None = None  # ... or an episode (position into its actions)
    position: int = 0


@dataclass(frozen=True)
class StepSet:
    items: tuple[StepItem, ...]
    problems: tuple[DataProblem, ...]


def load_step_items(paths: Sequence[Path]) -> StepSet:
    items: list[StepItem] = []
    problems: list[DataProblem] = []
    for path in paths:
        if path.is_dir():
            runs = (
                [path] if (path / RUN_FILE).exists() else sorted(p for p in path.iterdir() if (p / RUN_FILE).exists())
            )
            if not runs:
                raise FileNotFoundError(f"{path} is neither a run directory nor a folder of them")
            for run_dir in runs:
                _from_run(run_dir, items, problems)
        elif path.is_file():
            _from_episode_file(path, items, problems)
        else:
            raise FileNotFoundError(f"no such run directory or episode file: {path}")
    return StepSet(items=tuple(items), problems=tuple(problems))


def secret_names(items: Sequence[StepItem]) -> tuple[str, ...]:
    """The secrets the items' goals and expected actions name (``{{secret:NAME}}``): the model may read one off a
    screenshot and repeat it, so its answers are redacted as a run's are."""
    texts = [text for item in items for text in (item.goal, format_action(item.expected))]
    return referenced_names(texts)


def _from_run(directory: Path, items: list[StepItem], problems: list[DataProblem]) -> None:
    try:
        run = load_run(directory)
    except RunLoadError as error:
        file, line, message = _located(str(error), error.file or directory / RUN_FILE, error.line)
        problems.append(DataProblem(f"{directory.name}:run", file, line, message))
        return
    for position, step in enumerate(run.steps):
        if step.kind not in PARSED_KINDS or not step.actions or step.frame is None or step.geometry is None:
            continue
        item_id, where = f"{run.info.run_id}:{step.index}", f"{directory / STEPS_FILE}:{position + 1}"
        image = run.screenshot_path(step)  # None for a name that leads out of the run directory
        try:
            if image is None or not image.is_file():
                raise ValueError(f"screenshot {step.screenshot!r} of step {step.index} is missing")
            frame = ModelFrame(**step.frame.model_dump())
            expected = map_action(
                parse_action(step.actions[0]), frame, ScreenGeometry(step.geometry.width, step.geometry.height)
            )
        except (ValueError, ActionParseError) as error:
            problems.append(DataProblem(item_id, str(directory / STEPS_FILE), position + 1, str(error)))
            continue
        items.append(
            StepItem(
                id=item_id,
                where=where,
                goal=step.goal or run.info.task,
                image=image,
                expected=expected,
                groups={"kind": "run", "action": expected.action},
                run=run,
                position=position,
            )
        )


def _located(message: str, file: Path, line: int | None) -> tuple[str, int, str]:
    """The file, line and message of a load error (the message without the "FILE:LINE: " it may start with)."""
    prefix = f"{file}:{line}: " if line is not None else f"{file}: "
    return str(file), line or 1, message.removeprefix(prefix)


def _from_episode_file(path: Path, items: list[StepItem], problems: list[DataProblem]) -> None:
    try:
        records = list(json_records(path)) if path.suffix.lower() == ".jsonl" else _episode_values(path)
    except DataFileError as error:
        problems.append(DataProblem(f"{path.stem}:file", str(path), error.line, error.reason))
        return
    for number, (line, value) in enumerate(records):
        if isinstance(value, DataFileError):
            problems.append(DataProblem(f"{path.stem}:{number}", str(path), value.line, value.reason))
            continue
        episode_id = str(value.get("episode_id", f"{path.stem}:{number}")) if isinstance(value, dict) else ""
        try:
            episode, boxes = _episode(value, path.parent)
        except (ValueError, ActionParseError) as error:
            problems.append(DataProblem(episode_id or f"{path.stem}:{number}", str(path), line, str(error)))
            continue
        for position, action in enumerate(episode.actions):
            item_id = f"{episode_id}:{position}"
            image = episode.screenshots[position]
            if not is_file_quietly(image):
                problems.append(
                    DataProblem(item_id, str(path), line, f"screenshot {image} of step {position} is missing")
                )
                continue
            items.append(
                StepItem(
                    id=item_id,
                    where=f"{path}:{line}",
                    goal=episode.goal,
                    image=image,
                    expected=action,
                    box=boxes[position],
                    groups={"kind": "episode", "action": action.action},
                    episode=episode,
                    position=position,
                )
            )


def _episode_values(path: Path) -> list[tuple[int, object]]:
    """A .json file: one episode object, or a list of them."""
    try:
        text = read_regular(path, MAX_DATA_FILE_BYTES).decode("utf-8", errors="replace").lstrip()
    except OSError as error:
        raise DataFileError(path, 1, f"cannot read the file: {error}") from None
    if text.startswith("{"):
        try:
            return [(1, loads_bounded(text, DATA_LIMITS))]
        except JsonLimitError as error:
            raise DataFileError(path, 1, str(error)) from None
    return list(json_records(path))


def _episode(value: object, base: Path) -> tuple[Episode, list[Box | None]]:
    if not isinstance(value, dict):
        raise ValueError("an episode must be an object with goal, screenshots and actions")
    goal = value.get("goal")
    shots, actions, boxes = value.get("screenshots"), value.get("actions"), value.get("boxes")
    if not isinstance(goal, str) or not goal.strip():
        raise ValueError("goal is missing or empty")
    if not isinstance(shots, list) or not isinstance(actions, list) or not actions:
        raise ValueError("screenshots and actions must be lists, with at least one action")
    if len(shots) < len(actions):
        raise ValueError(f"{len(actions)} actions but only {len(shots)} screenshots")
    if boxes is not None and (not isinstance(boxes, list) or len(boxes) < len(actions)):
        raise ValueError("boxes must be a list with one entry (or null) per action")
    parsed = tuple(_action(raw, number) for number, raw in enumerate(actions))
    episode = Episode(
        goal=goal,
        screenshots=tuple(_screenshot(base, shot) for shot in shots),
        actions=parsed,
        device=str(value.get("device", "mobile")),
    )
    return episode, [_box(boxes[n]) if boxes else None for n in range(len(actions))]


def _screenshot(base: Path, shot: object) -> Path:
    """A screenshot named relative to the episode file, inside its folder (never ``..``, absolute or a link out)."""
    try:
        return inside(base, str(shot))
    except PathEscape as error:
        raise ValueError(f"screenshot {error}: screenshots must lie inside the episode file's folder {base}") from None


def _box(raw: object) -> Box | None:
    if raw is None:
        return None
    return Box(*box_numbers(raw, "a box ([x1, y1, x2, y2] or null)"))


def _action(raw: object, number: int) -> Action:
    """An AndroidControl JSON action, or our canonical text (screenshot pixels)."""
    if isinstance(raw, str):
        return parse_action(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("action_type"), str):
        raise ValueError(f"action {number} must be an object with action_type, or an action text")
    kind = raw["action_type"]
    try:
        match kind:
            case "click" | "long_press":
                point = Point(x=_coordinate(raw["x"]), y=_coordinate(raw["y"]))
                return Click(point=point) if kind == "click" else LongPress(point=point)
            case "scroll":
                return Scroll(direction=raw["direction"])
            case "input_text" | "type":
                return Type(text=raw["text"])
            case "open_app":
                return OpenApp(name=raw["app_name"])
            case "navigate_back":
                return PressBack()
            case "navigate_home":
                return PressHome()
            case "wait":
                return Wait()
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"action {number} ({kind}) is incomplete or invalid: {error}") from None
    raise ValueError(f"action {number}: unknown action_type {kind!r}")


def _coordinate(raw: object) -> int:
    """A pixel coordinate: a finite number (a boolean, NaN or a number too large to hold is no place on a screen)."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ValueError(f"a coordinate must be a finite number, got {str(raw)[:40]}")
    return round(raw)
