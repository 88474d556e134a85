"""The task file: what to run, where, with which model, in which steps.

A task YAML holds a ``name``, an optional ``device`` and ``model`` section,
budgets (``max_steps``, ``timeout``), ``env`` variables for ``${VAR}``
substitution, the ``secrets`` it needs, and ``steps``: each one mapping whose
key says its kind (``ai``, ``do``, ``tap``, ``type``, ``launch``, ``wait``,
``assert``, ``wait_for``, ``query``). ``qwen_gui_agent.tasks.loader`` reads the file and reports
errors with file, line and field.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from ..tools.actions import MAX_WAIT_S
from ..tools.canonical import format_action, parse_action
from ..tools.dialects import check_dialect_name
from ..tools.errors import ActionParseError
from ..tools.frames import ModelFrame, parse_pixels
from .answer_types import AnswerSpec, answer_type
from .variables import NAME_PATTERN, fill, referenced_variables

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def duration_seconds(text: str) -> float:
    """Seconds from text such as ``90``, ``90s``, ``5m``, ``1m30s``, ``2h``; ValueError for anything else."""
    match = _DURATION.match(text)
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration (use seconds, or e.g. 90s, 5m, 1m30s)")
    hours, minutes, seconds = (float(group) if group else 0.0 for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_duration(value: object) -> object:
    """A duration field's validator: text as ``duration_seconds`` reads it; a number is left to the field's type."""
    return duration_seconds(value) if isinstance(value, str) else value


Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, allow_inf_nan=False)]
StepCount = Annotated[int, Field(ge=1, le=1000, strict=True)]  # strict: `max_steps: true` is no count


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeviceSection(_Section):
    """Where the task runs. ``device: android:SERIAL`` is short for ``{kind: android, serial: SERIAL}``."""

    kind: Literal["desktop", "android"] = "desktop"
    serial: str | None = None  # android: serial or HOST:PORT
    monitor: int | None = Field(default=None, ge=1)  # desktop: mss monitor number, 1 = primary
    app: str | None = None  # launched before the first step (package or label on android, a command on desktop)

    @model_validator(mode="before")
    @classmethod
    def _from_spec(cls, data: object) -> object:
        if not isinstance(data, str):
            return data
        kind, _, rest = data.partition(":")
        if kind == "desktop":
            return {"kind": kind, **({"monitor": rest} if rest else {})}
        return {"kind": kind, **({"serial": rest} if rest else {})}

    def spec(self) -> str:
        """The ``--device`` form of this section."""
        if self.kind == "desktop":
            return f"desktop:{self.monitor}" if self.monitor else "desktop"
        return f"android:{self.serial}" if self.serial else "android"


def parse_bool(text: str | bool) -> bool:
    """A yes/no setting as flags, YAML and environment variables write it."""
    if isinstance(text, bool):
        return text
    folded = text.strip().lower()
    if folded in ("1", "true", "yes", "on"):
        return True
    if folded in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{text!r} is not a yes/no value (1/0, true/false, yes/no, on/off)")


# Task values and flags share these parsers, so `max_pixels: 1280*28*28` and `fast: on` read the same.
Pixels = Annotated[int, BeforeValidator(parse_pixels), Field(gt=0)]
YesNo = Annotated[bool, BeforeValidator(parse_bool)]


class ModelSection(_Section):
    """Model settings; each key is the long name of an ``agent run`` model flag, with its limits (flags win).

    A test keeps these keys equal to the flags ``resolve_model_settings`` takes.
    """

    backend: Literal["local", "openai", "scripted"] | None = None
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    dialect: str | None = None  # a name the dialect registry knows (checked below)
    coords: Literal["absolute", "relative"] | None = None
    min_pixels: Pixels | None = None
    max_pixels: Pixels | None = None
    max_new_tokens: int | None = Field(default=None, gt=0)
    source: Literal["hub", "local", "modelscope"] | None = None
    script: Path | None = None  # like --script: relative to the directory agent run starts in
    temperature: float | None = Field(default=None, ge=0)
    request_timeout: float | None = Field(default=None, gt=0)
    max_retries: int | None = Field(default=None, ge=0)
    image_format: Literal["png", "jpeg"] | None = None
    jpeg_quality: int | None = Field(default=None, ge=1, le=100)
    torch_device: str | None = None
    fast: YesNo | None = None
    grammar: YesNo | None = None
    adapter: str | None = None  # like --adapter: a LoRA checkpoint directory (local backend)
    structured_output: (
        Literal["auto", "vllm", "vllm-guided", "sglang", "sglang-regex", "openai-json-schema", "off"] | None
    ) = None
    context_limit: int | None = Field(default=None, gt=0)
    check_server_frame: YesNo | None = None

    @field_validator("dialect")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        return None if value is None else check_dialect_name(value)

    @field_validator("script")
    @classmethod
    def _script_stays_near(cls, value: Path | None) -> Path | None:
        """A task file may come from anyone: its script must not read (and so record) a file anywhere on disk."""
        if value is not None and (value.is_absolute() or ".." in value.parts or value.drive):
            raise ValueError(
                "must be a relative path without `..` (a task file may not name files elsewhere; --script may)"
            )
        return value


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    kind: ClassVar[str] = ""
    name: str | None = None  # shown on the console and in the record

    @property
    def text(self) -> str:
        return str(getattr(self, self.kind))

    def with_variables(self, values: Mapping[str, Any]) -> Self:
        """This step with its ``{{var:...}}`` placeholders filled (VariableError for one that cannot be)."""
        if not referenced_variables([self.text]):
            return self
        field_name = next(name for name, info in type(self).model_fields.items() if (info.alias or name) == self.kind)
        return self.model_copy(update={field_name: fill(self.text, values)})


class AiStep(_Step):
    """A goal the model pursues step by step until it says ``finished``."""

    ai: str = Field(min_length=1)
    max_steps: StepCount | None = None
    kind: ClassVar[str] = "ai"


# A frame is the size of an image a model saw: X11 and Android coordinates are 16-bit, and Qwen's resize refuses
# an aspect ratio past 200. ``99999999999999999999x1`` loaded, and its click landed in a corner.
MAX_FRAME_SIDE = 32_767
MAX_FRAME_ASPECT = 200


def _frame(value: object) -> object:
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "relative":
            return ModelFrame(width=1000, height=1000, relative=True)
        match = re.fullmatch(r"(\d{1,30})\s*[x×]\s*(\d{1,30})", text)
        if not match or 0 in (int(match.group(1)), int(match.group(2))):
            raise ValueError(f"{value!r} is not a frame (use WIDTHxHEIGHT, e.g. 1080x2400, or 'relative')")
        width, height = int(match.group(1)), int(match.group(2))
        if max(width, height) > MAX_FRAME_SIDE:
            raise ValueError(
                f"{value!r}: each side of a frame is at most {MAX_FRAME_SIDE:,} pixels (write the size "
                "of the image the coordinates are in, e.g. 1080x2400)"
            )
        if max(width, height) > MAX_FRAME_ASPECT * min(width, height):
            raise ValueError(
                f"{value!r}: one side is more than {MAX_FRAME_ASPECT} times the other, which no screen "
                "is (write the size of the image the coordinates are in, e.g. 1080x2400)"
            )
        return ModelFrame(width=width, height=height)
    if isinstance(value, (int, float)):  # YAML reads 0x100 as the hexadecimal number 256
        # A ValueError, not a TypeError: pydantic reports only the former as the field's validation error.
        raise ValueError(f"{value!r} is not a frame (use WIDTHxHEIGHT, e.g. 1080x2400, or 'relative')")  # noqa: TRY004
    return value


class DoStep(_Step):
    """One literal action in canonical text; its points are in ``frame`` if given, else screenshot pixels."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    do: str
    frame: Annotated[ModelFrame | None, BeforeValidator(_frame)] = None
    kind: ClassVar[str] = "do"

    @field_validator("do")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_action(value)
        except ActionParseError as error:
            raise ValueError(error.problem + (f" (expected {error.expected})" if error.expected else "")) from None
        return value

    def with_variables(self, values: Mapping[str, Any]) -> Self:
        """Placeholders are filled inside the action's text fields, so a value with quotes stays one value."""
        if not referenced_variables([self.do]):
            return self
        action = parse_action(self.do)
        filled = {name: fill(value, values) for name, value in action if isinstance(value, str)}
        return self.model_copy(update={"do": format_action(action.model_copy(update=filled))})

    @model_validator(mode="after")
    def _in_frame(self) -> DoStep:
        if self.frame is not None:
            for point in parse_action(self.do).points():
                try:
                    self.frame.check(point)
                except ActionParseError as error:
                    raise ValueError(f"{error.problem} ({error.expected})") from None
        return self


class TapStep(_Step):
    """Find the described element on the screen (one grounding query) and click it."""

    tap: str = Field(min_length=1)
    kind: ClassVar[str] = "tap"


class TypeStep(_Step):
    type: str
    submit: bool = False
    kind: ClassVar[str] = "type"


def split_command_line(text: str) -> list[str]:
    """A desktop command line as program and arguments (shell quoting rules); ValueError if it is unusable."""
    try:
        argv = shlex.split(text)
    except ValueError as error:  # shlex says e.g. "No closing quotation"
        raise ValueError(f"{text!r} is not a command line: {str(error).lower()}") from None
    if not argv:
        raise ValueError("the command line is empty")
    return argv


class LaunchStep(_Step):
    """Start an app: a package or label on Android, a command line on the desktop."""

    launch: str = Field(min_length=1)
    kind: ClassVar[str] = "launch"


class WaitStep(_Step):
    wait: Annotated[Seconds, Field(le=MAX_WAIT_S)]  # the wait action's own limit, checked at load time
    kind: ClassVar[str] = "wait"


class AssertStep(_Step):
    """A statement about the screen the model judges true or false; false fails the task."""

    assert_: str = Field(alias="assert", min_length=1)
    kind: ClassVar[str] = "assert"

    @property
    def text(self) -> str:
        return self.assert_


class WaitForStep(_Step):
    """Ask about the screen again and again until the statement is true, or fail after ``timeout``."""

    wait_for: str = Field(min_length=1)
    timeout: Seconds = 30.0
    interval: Seconds = 2.0
    kind: ClassVar[str] = "wait_for"


class QueryStep(_Step):
    """Read something off the screen into a variable: later steps use it as ``{{var:NAME}}``."""

    query: str = Field(min_length=1)
    save_as: str
    answer_schema: AnswerSpec = Field(default="string", alias="schema")
    kind: ClassVar[str] = "query"

    @field_validator("save_as")
    @classmethod
    def _is_a_name(cls, name: str) -> str:
        if not re.fullmatch(NAME_PATTERN, name):
            raise ValueError(f"{name!r} is not a variable name (letters, digits and _, not starting with a digit)")
        return name

    @field_validator("answer_schema")
    @classmethod
    def _is_a_type(cls, spec: AnswerSpec) -> AnswerSpec:
        answer_type(spec)
        return spec


STEP_KINDS = ("ai", "do", "tap", "type", "launch", "wait", "assert", "wait_for", "query")


def _step_kind(data: Any) -> str | None:
    """The step's tag: the one kind key it holds (None when it holds none or several)."""
    if isinstance(data, _Step):
        return f"{data.kind} step"
    if not isinstance(data, dict):
        return None
    kinds = [key for key in STEP_KINDS if key in data]
    return f"{kinds[0]} step" if len(kinds) == 1 else None


Step = Annotated[
    Annotated[AiStep, Tag("ai step")]
    | Annotated[DoStep, Tag("do step")]
    | Annotated[TapStep, Tag("tap step")]
    | Annotated[TypeStep, Tag("type step")]
    | Annotated[LaunchStep, Tag("launch step")]
    | Annotated[WaitStep, Tag("wait step")]
    | Annotated[AssertStep, Tag("assert step")]
    | Annotated[WaitForStep, Tag("wait_for step")]
    | Annotated[QueryStep, Tag("query step")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of the keys " + ", ".join(STEP_KINDS),
    ),
]


# Steps that act without asking the model: a task made only of these needs no model backend.
LITERAL_STEP_KINDS = frozenset({"do", "type", "wait", "launch"})


class Task(_Section):
    name: str = ""
    device: DeviceSection | None = None
    model: ModelSection = Field(default_factory=ModelSection)
    max_steps: StepCount | None = None  # per `ai` step
    timeout: Seconds | None = None  # the whole run's wall time
    env: dict[str, str] = Field(default_factory=dict)  # variables for ${VAR} (already substituted here)
    secrets: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(default_factory=list)
    steps: list[Step] = Field(min_length=1)

    @classmethod
    def from_goal(cls, goal: str) -> Task:
        """The task of ``agent run "GOAL"``: one ``ai`` step."""
        return cls(name=goal, steps=[AiStep(ai=goal)])

    def title(self) -> str:
        return self.name or next((step.text for step in self.steps if isinstance(step, AiStep)), self.steps[0].text)

    def desktop_command_lines(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location, text) of each command line the desktop will start: ``device.app`` and ``launch`` steps.

        Empty for a task that names an Android device (there ``launch`` is a package or label). A task
        that names no device is read as a desktop one, the default.
        """
        if self.device is not None and self.device.kind != "desktop":
            return []
        lines: list[tuple[tuple[str | int, ...], str]] = []
        if self.device is not None and self.device.app:
            lines.append((("device", "app"), self.device.app))
        for index, step in enumerate(self.steps):
            if isinstance(step, LaunchStep):
                lines.append((("steps", index, "launch"), step.launch))
        return lines

    def needs_model(self) -> bool:
        """Whether any step asks the model; a task of literal steps only runs without one."""
        return any(step.kind not in LITERAL_STEP_KINDS for step in self.steps)

    def undefined_variables(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location, message) of each ``{{var:NAME}}`` used before any earlier ``query`` step saves NAME."""
        saved: set[str] = set()
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, step in enumerate(self.steps):
            for name in referenced_variables([step.text]):
                if name not in saved:
                    problems.append(
                        (
                            ("steps", index, step.kind),
                            f"{{{{var:{name}}}}} is used before a query step saves it (save_as: {name})",
                        )
                    )
            if isinstance(step, QueryStep):
                saved.add(step.save_as)
        return problems

    def texts(self) -> list[str]:
        """Every text of the task a secret placeholder could hide in."""
        return [self.name, *(step.text for step in self.steps)]
