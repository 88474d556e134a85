"""Recorded runs on disk: ``run.json``, ``steps.jsonl`` and one image per step.

Written as the run happens: each step is one JSON line, appended, flushed and
fsynced, so a run killed with SIGKILL mid-step still loads up to its last
complete step. ``run.json`` is replaced atomically on every update.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...tools.frames import MAX_SCALE, MIN_SCALE, FrameBounds
from ...tools.models import model_setup
from ..files.bounded_json import JsonLimitError, JsonLimits, loads_bounded
from ..files.paths import is_plain_name
from ..files.reading import MIB, FileRefused, json_lines, read_regular
from ..files.writing import replace_text

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
RUN_FILE = "run.json"
STEPS_FILE = "steps.jsonl"

# Step kinds whose actions the model chose, written in the step's recorded model frame
# (every other kind runs literal actions from the task file).
MODEL_KINDS = frozenset({"ai", "tap"})
# Step kinds whose answer is a yes/no judgement of the screen; their note is "yes: STATEMENT" or "no: STATEMENT".
VERDICT_KINDS = frozenset({"assert", "wait_for"})
# Step kinds that read data off the screen: the note holds the question, ``value`` the JSON the answer held.
QUERY_KINDS = frozenset({"query"})
# A desktop launch records its command line as "launch COMMAND": not an action, so never parsed or replayed.
LAUNCH_PREFIX = "launch "


def launch_record(command_line: str) -> str:
    return LAUNCH_PREFIX + command_line


def is_launch_record(text: str) -> bool:
    return text.startswith(LAUNCH_PREFIX)


RunStatus = Literal["running", "success", "failure", "stuck", "budget", "interrupted", "needs_user", "error"]


# Bounds a run file read back must keep (a hand-edited or hostile one may hold anything): a side of a screen or
# frame in pixels, an origin, and the pixel budgets of the frame settings.
Side = Annotated[int, Field(gt=0, le=100_000)]
Offset = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
PixelCount = Annotated[int, Field(gt=0, le=1 << 34)]
MAX_RUN_ID_CHARS = 200


class GeometryRecord(BaseModel):
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)
    width: Side
    height: Side
    scale: Annotated[float, Field(ge=MIN_SCALE, le=MAX_SCALE)] = 1.0
    origin_x: Offset = 0
    origin_y: Offset = 0


class FrameRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    width: Side
    height: Side
    relative: bool = False
    relative_scale: int = 1000  # what the far edge is worth in a relative answer (999 for Qwen3-VL)


class ExecutedRecord(BaseModel):
    """One action as the device got it: canonical text in the input frame, and the driver's commands."""

    model_config = ConfigDict(frozen=True)
    action: str
    commands: list[str] = Field(default_factory=list)
    dry_run: bool = False


class ErrorRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: str  # "parse", "device", "backend", "user" ...
    message: str


class StepRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    index: int  # 1-based
    started_at: float
    kind: str = "ai"  # which task step produced it: ai, do, tap, assert, wait_for ...
    goal: str = ""  # the ai goal this step worked on (a task file may hold several)
    query: str = ""  # a tap step's grounding question ("the blue Search button"); empty in older runs
    screenshot: str | None = None  # file name inside the run directory
    geometry: GeometryRecord | None = None
    frame: FrameRecord | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    answer: str = ""  # the model's raw answer
    thought: str = ""
    actions: list[str] = Field(default_factory=list)  # canonical text, model frame
    executed: list[ExecutedRecord] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    # What the backend measured inside its calls this step (local: preprocess, first_token, decode;
    # openai: encode, request), summed when a step asks more than once; empty for steps without a model.
    error: ErrorRecord | None = None
    feedback: str = ""  # what was sent back to the model after this step
    note: str = ""
    value: Any = None  # a query step: the JSON value its answer held
    # What the serving side reported or did: image tokens, the server's frame, structured output, context trims.
    serving: dict[str, Any] = Field(default_factory=dict)


class RunInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    format: int = FORMAT_VERSION
    run_id: str
    task: str
    task_file: str | None = None
    dialect: str
    model: dict[str, Any] = Field(default_factory=dict)  # never holds an API key
    device: dict[str, Any] = Field(default_factory=dict)
    frame_settings: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    started_at: float
    ended_at: float | None = None
    status: RunStatus = "running"
    message: str = ""
    steps: int = 0

    @field_validator("run_id")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        # It names the run's folder in an export: a path in it would write outside the export's folder.
        if len(value) > MAX_RUN_ID_CHARS or not is_plain_name(value) or not value.isprintable():
            raise ValueError(
                f"must be the run folder's plain name (at most {MAX_RUN_ID_CHARS} printable characters, "
                "no '/', '\\' or '..')"
            )
        return value

    @field_validator("frame_settings")
    @classmethod
    def _frame_settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {**value, **_FrameSettings.model_validate(value).model_dump(exclude_unset=True)}

    @field_validator("device")
    @classmethod
    def _device(cls, value: dict[str, Any]) -> dict[str, Any]:
        return {**value, **_DeviceSize.model_validate(value).model_dump(exclude_unset=True)}

    @property
    def frame_bounds(self) -> FrameBounds:
        """The frame bounds the run resized its screenshots with (CI replay, export and eval read them here).

        Every bound the run did not record is its model family's (runs recorded before the patch factor
        was stored were all Qwen2.5-VL-sized): ``ValueError`` when a recorded value is no positive integer.
        """
        recorded = model_setup(str(self.model.get("model") or "")).frame
        values = {}
        for key, default in (
            ("min_pixels", recorded.min_pixels),
            ("max_pixels", recorded.max_pixels),
            ("patch_factor", recorded.factor),
        ):
            value = self.frame_settings.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"run.json frame_settings.{key} is {value!r}, not a whole number of pixels")
            values[key] = value
        return FrameBounds(values["min_pixels"], values["max_pixels"], values["patch_factor"])


class _FrameSettings(BaseModel):
    """The frame settings replay and export compute with, checked where present (other keys pass as they are)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    min_pixels: PixelCount | None = None
    max_pixels: PixelCount | None = None
    patch_factor: Annotated[int, Field(gt=0, le=1024)] | None = None
    history_images: Annotated[int, Field(ge=0, le=1000)] | None = None
    relative: bool | None = None
    relative_scale: int | None = None
    language: Annotated[str, Field(max_length=100)] | None = None


class _DeviceSize(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    width: Side | None = None
    height: Side | None = None


class RunWriteError(RuntimeError):
    """The run's folder cannot be written (read-only, a full disk, a file where a folder should be).

    Not the model's or the device's doing: the run stops, says which path and why, and exits 2.
    """

    def __init__(self, path: Path, error: OSError) -> None:
        self.path = path
        reason = error.strerror or str(error)
        super().__init__(f"cannot write {path}: {reason}; free some space there or choose another --out")


class RunWriter:
    """Appends a run to its directory as it happens; a write that fails raises RunWriteError (and ``failed``
    stays True), and run.json is still brought up to date where the disk allows (``update``)."""

    def __init__(self, directory: Path, info: RunInfo) -> None:
        self.directory = Path(directory)
        self.info = info
        self.failed = False
        try:
            self.directory.mkdir(parents=True, exist_ok=False)
            self._steps = open(self.directory / STEPS_FILE, "a", encoding="utf-8")  # noqa: SIM115 - held for the run
        except OSError as error:
            raise self._failure(self.directory, error) from None
        self._write_info()

    def save_image(self, index: int, image: Image.Image, suffix: str = "") -> str:
        name = f"step-{index:04d}{suffix}.png"
        try:
            image.save(self.directory / name, format="PNG", compress_level=1)  # fast: written on the hot path
        except OSError as error:
            (self.directory / name).unlink(missing_ok=True)  # no half image: it would read as a broken screenshot
            raise self._failure(self.directory / name, error) from None
        return name

    def append(self, step: StepRecord) -> None:
        try:
            self._steps.write(step.model_dump_json() + "\n")
            self._steps.flush()
            os.fsync(self._steps.fileno())
        except OSError as error:
            raise self._failure(self.directory / STEPS_FILE, error) from None
        self.update(steps=step.index)

    def update(self, **changes: Any) -> None:
        self.info = self.info.model_copy(update=changes)
        self._write_info()

    def close(self) -> None:
        try:
            self._steps.close()
        except OSError as error:  # the last buffered bytes could not be written: the steps file says so itself
            log.warning("closing %s: %s", self.directory / STEPS_FILE, error)

    def _write_info(self) -> None:
        """run.json replaced atomically; on a full disk, where the new text fits the old file's blocks, rewritten
        in place instead, so that even then it says how the run ended rather than ``running``."""
        text = self.info.model_dump_json(indent=2)
        try:
            replace_text(self.directory / RUN_FILE, text)  # through no planted link, by a random temporary name
        except OSError as error:
            if not _rewrite_in_place(self.directory / RUN_FILE, text.encode("utf-8")):
                raise self._failure(self.directory / RUN_FILE, error) from None
            self.failed = True
            log.warning("run.json rewritten in place after: %s", error)

    def _failure(self, path: Path, error: OSError) -> RunWriteError:
        self.failed = True
        return RunWriteError(path, error)


def _rewrite_in_place(path: Path, text: bytes) -> bool:
    """Overwrite ``path`` with ``text`` in the blocks it already holds (no new space needed); False when it cannot."""
    try:
        if not path.is_file() or len(text) > path.stat().st_blocks * 512:
            return False
        with open(path, "r+b") as file:
            file.write(text)
            file.truncate()
            file.flush()
            os.fsync(file.fileno())
        return True
    except OSError:
        return False


class RecordedRun(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    directory: Path
    info: RunInfo
    steps: list[StepRecord]
    truncated: bool = False  # the last line was cut off (the run was killed mid-write)

    def screenshot_path(self, step: StepRecord) -> Path | None:
        """The file of the step's screenshot, or None: none recorded, or a name that leads out of the run.

        A run directory may come from anyone (a CI artifact, a bug report): a recorded name that is
        absolute, holds ``..`` or a link that resolves elsewhere would make the report embed, or the
        replay read, any file on the disk.
        """
        name = step.screenshot
        if not name:
            return None
        path = self.directory / name
        plain = Path(name).name == name and name not in (".", "..") and "\\" not in name
        if not plain or not path.resolve().is_relative_to(self.directory.resolve()):
            log.warning("step %d: screenshot %r is not a file of the run directory; ignoring it", step.index, name)
            return None
        return path


class RunLoadError(ValueError):
    """The directory is not a readable recorded run; ``file`` and ``line`` say where, when one file is at fault."""

    def __init__(self, message: str, *, file: Path | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        super().__init__(message)


# What the bounded reader allows a run folder (it may come from anyone: a CI artifact, a bug report).
MAX_RUN_FILE_BYTES = 4 * MIB
MAX_STEPS_BYTES = 1024 * MIB
MAX_STEP_LINE_BYTES = 16 * MIB  # an answer, its thought and a query's value; a real step is a few KiB
RECORD_LIMITS = JsonLimits(max_depth=64, max_number_chars=40)
_DAMAGED = "the file was damaged or edited by hand: restore it from the original run or record the run again"


def load_run(directory: Path | str) -> RecordedRun:
    directory = Path(directory)
    path = directory / RUN_FILE
    try:
        info = RunInfo.model_validate(loads_bounded(read_regular(path, MAX_RUN_FILE_BYTES), RECORD_LIMITS))
    except FileNotFoundError:
        raise RunLoadError(f"{directory} is not a recorded run: {RUN_FILE} is missing") from None
    except NotADirectoryError:  # a file named where a run directory belongs
        raise RunLoadError(f"{directory} is not a recorded run: it is not a directory") from None
    except FileRefused as error:
        raise RunLoadError(f"{error}; {_DAMAGED}", file=path) from None
    except OSError as error:
        raise RunLoadError(f"{path} cannot be read: {error.strerror or error}", file=path) from None
    except JsonLimitError as error:
        raise RunLoadError(f"{path} is not a valid run file ({error}); {_DAMAGED}", file=path) from None
    except ValidationError as error:
        raise RunLoadError(f"{path} is not a valid run file ({one_line(error)}); {_DAMAGED}", file=path) from None
    steps, truncated = _read_steps(directory / STEPS_FILE)
    return RecordedRun(directory=directory, info=info, steps=steps, truncated=truncated)


def _read_steps(path: Path) -> tuple[list[StepRecord], bool]:
    steps: list[StepRecord] = []
    try:
        for number, value, last in json_lines(
            path, max_bytes=MAX_STEPS_BYTES, max_line_bytes=MAX_STEP_LINE_BYTES, limits=RECORD_LIMITS
        ):
            try:
                if isinstance(value, JsonLimitError):
                    raise value
                steps.append(StepRecord.model_validate(value))
            except (JsonLimitError, ValidationError) as error:
                if last and isinstance(error, JsonLimitError) and "not valid JSON" in str(error):
                    log.warning("%s: last step line is incomplete; ignoring it", path)  # cut short by a kill
                    return steps, True
                why = one_line(error) if isinstance(error, ValidationError) else str(error)
                raise RunLoadError(
                    f"{path}:{number}: not a valid step record ({why}); {_DAMAGED}", file=path, line=number
                ) from None
    except FileNotFoundError:
        return [], False
    except FileRefused as error:
        raise RunLoadError(f"{error}; {_DAMAGED}", file=path) from None
    except OSError as error:
        raise RunLoadError(f"{path} cannot be read: {error.strerror or error}", file=path) from None
    return steps, False


def one_line(error: ValidationError) -> str:
    """A pydantic error as one line: the first problem's place, what was wrong and the value, and how many more."""
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "the record"
    value = repr(first.get("input"))
    shown = value if len(value) <= 60 else value[:57] + "..."
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}, got {shown}{more}"
