"""The model flags shared by every command that reasons (``agent run``, ``agent eval`` ...).

``ModelFlags`` is the flag group (commands/flag_groups.py adds it to a command whole);
``resolve_model_settings(flags, environ=..., task=...)`` turns it, the task file's ``model``
section and the environment into a ``ModelChoice``. Each setting comes from the first of: the
flag, the task file, its ``AGENT_*`` environment variable, the default; the model's family
(``tools.models.model_setup``) decides the dialect, coordinates and frame bounds not given. The
environment is read only here, at the edge.

The API key is never a flag (shell history, process lists): ``--api-key-env VAR``
names the variable that holds it (default ``AGENT_API_KEY``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import SecretStr, ValidationError

from ...tasks.schema import parse_bool
from ...tools.dialects import check_dialect_name, dialect_names
from ...tools.dialects.base import Coordinates
from ...tools.frames import parse_pixels
from ...tools.models import DEFAULT_MODEL, ModelMatch, model_setup
from ..backends.grammar.rules import GRAMMAR_DIALECTS
from ..backends.settings import BackendSettings

log = logging.getLogger(__name__)

PANEL = "Model"
DEFAULT_API_KEY_ENV = "AGENT_API_KEY"


class ModelOptionError(typer.BadParameter):
    """A model setting that cannot be used; says which flag, task key or variable gave it."""


# -- flag aliases for command signatures -------------------------------------------------------------------

BackendOption = Annotated[
    Literal["local", "openai", "scripted"] | None,
    typer.Option(
        "--backend",
        rich_help_panel=PANEL,
        show_default=False,
        help="Where the model runs: local (transformers), openai (any OpenAI-compatible server), scripted. "
        "Default: scripted with --script, openai with --base-url, else local. Env: AGENT_BACKEND.",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        rich_help_panel=PANEL,
        show_default=False,
        help="Hub id, local directory or served model name; short names 3b 7b 32b 72b ui-tars-1.5-7b. "
        "Default Qwen/Qwen2.5-VL-7B-Instruct. Env: AGENT_MODEL.",
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        rich_help_panel=PANEL,
        show_default=False,
        help="API root of an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1. Env: AGENT_BASE_URL.",
    ),
]
ApiKeyEnvOption = Annotated[
    str | None,
    typer.Option(
        "--api-key-env",
        rich_help_panel=PANEL,
        show_default=False,
        metavar="VAR",
        help="Environment variable holding the server's API key (default AGENT_API_KEY). Env: AGENT_API_KEY_ENV.",
    ),
]
MaxPixelsOption = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        rich_help_panel=PANEL,
        show_default=False,
        parser=parse_pixels,
        metavar="N",
        help="Largest screenshot area the model sees, e.g. 1280*28*28 (the default). Env: AGENT_MAX_PIXELS.",
    ),
]
MinPixelsOption = Annotated[
    int | None,
    typer.Option(
        "--min-pixels",
        rich_help_panel=PANEL,
        show_default=False,
        parser=parse_pixels,
        metavar="N",
        help="Smallest screenshot area the model sees (default 4*28*28). Env: AGENT_MIN_PIXELS.",
    ),
]


def dialect_name_option(value: str | None) -> str | None:
    """--dialect: a name (or alias) the dialect registry (tools/dialects) knows, spelled as it spells it."""
    try:
        return None if value is None else check_dialect_name(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


DialectOption = Annotated[
    str | None,
    typer.Option(
        "--dialect",
        rich_help_panel=PANEL,
        show_default=False,
        callback=dialect_name_option,
        help=f"Prompt and answer format: {', '.join(dialect_names())}; default from the model (`agent models` lists "
        "them). Env: AGENT_DIALECT.",
    ),
]
CoordsOption = Annotated[
    Literal["absolute", "relative"] | None,
    typer.Option(
        "--coords",
        rich_help_panel=PANEL,
        show_default=False,
        help="Model answers in pixels of the image it saw (absolute: Qwen2.5-VL, UI-TARS-1.5) or in thousandths "
        "(relative: Qwen3-VL, GUI-Owl-1.5, UI-TARS-1.0, Qwen2-VL); default from the model. Env: AGENT_COORDS.",
    ),
]
MaxNewTokensOption = Annotated[
    int | None,
    typer.Option(
        "--max-new-tokens",
        rich_help_panel=PANEL,
        show_default=False,
        min=1,
        help="Longest answer in tokens (default 512). Env: AGENT_MAX_NEW_TOKENS.",
    ),
]
SourceOption = Annotated[
    Literal["hub", "local", "modelscope"] | None,
    typer.Option(
        "--source",
        rich_help_panel=PANEL,
        show_default=False,
        help="local backend: weights from the Hugging Face hub (default), a local directory, or ModelScope "
        "(downloads in mainland China). Env: AGENT_SOURCE.",
    ),
]
ScriptOption = Annotated[
    Path | None,
    typer.Option(
        "--script",
        rich_help_panel=PANEL,
        show_default=False,
        help="scripted backend: a recorded run directory, or a file of answers (.json/.yaml list, or text "
        "with answers split by '---' lines). Env: AGENT_SCRIPT.",
    ),
]
TemperatureOption = Annotated[
    float | None,
    typer.Option(
        "--temperature",
        rich_help_panel=PANEL,
        show_default=False,
        min=0.0,
        help="0 (the default) decodes greedily. Env: AGENT_TEMPERATURE.",
    ),
]
RequestTimeoutOption = Annotated[
    float | None,
    typer.Option(
        "--request-timeout",
        rich_help_panel=PANEL,
        show_default=False,
        min=0.001,
        metavar="SECONDS",
        help="openai backend: seconds to wait for one reply (default 120). Env: AGENT_REQUEST_TIMEOUT.",
    ),
]
MaxRetriesOption = Annotated[
    int | None,
    typer.Option(
        "--max-retries",
        rich_help_panel=PANEL,
        show_default=False,
        min=0,
        help="openai backend: retries on 429/5xx/connection errors (default 3). Env: AGENT_MAX_RETRIES.",
    ),
]
ImageFormatOption = Annotated[
    Literal["png", "jpeg"] | None,
    typer.Option(
        "--image-format",
        rich_help_panel=PANEL,
        show_default=False,
        help="openai backend: how screenshots travel; jpeg is smaller for slow links (default png). "
        "Env: AGENT_IMAGE_FORMAT.",
    ),
]
JpegQualityOption = Annotated[
    int | None,
    typer.Option(
        "--jpeg-quality",
        rich_help_panel=PANEL,
        show_default=False,
        min=1,
        max=100,
        help="JPEG quality with --image-format jpeg (default 90). Env: AGENT_JPEG_QUALITY.",
    ),
]
TorchDeviceOption = Annotated[
    str | None,
    typer.Option(
        "--torch-device",
        rich_help_panel=PANEL,
        show_default=False,
        help="local backend: auto (default), cpu, cuda (all GPUs) or cuda:N. Env: AGENT_TORCH_DEVICE.",
    ),
]
FastOption = Annotated[
    bool | None,
    typer.Option(
        "--fast/--no-fast",
        rich_help_panel=PANEL,
        show_default=False,
        help="local backend: the fast decode path (default: on with CUDA). Env: AGENT_FAST.",
    ),
]

GrammarOption = Annotated[
    bool | None,
    typer.Option(
        "--grammar/--no-grammar",
        rich_help_panel=PANEL,
        show_default=False,
        help="Constrain each action answer to the dialect's action format, so it always parses (greedy; default "
        "off): on the local fast path, or sent to the server (see --structured-output). Env: AGENT_GRAMMAR.",
    ),
]
StructuredOutputOption = Annotated[
    Literal["auto", "vllm", "vllm-guided", "sglang", "sglang-regex", "openai-json-schema", "off"] | None,
    typer.Option(
        "--structured-output",
        rich_help_panel=PANEL,
        show_default=False,
        help="openai backend with --grammar: the request field that carries the constraint: vllm "
        "(structured_outputs), vllm-guided (guided_grammar, vLLM < 0.12), sglang (ebnf), sglang-regex (regex), "
        "openai-json-schema (response_format), off; auto (default) asks the server's /models. "
        "Env: AGENT_STRUCTURED_OUTPUT.",
    ),
]
ContextLimitOption = Annotated[
    int | None,
    typer.Option(
        "--context-limit",
        rich_help_panel=PANEL,
        show_default=False,
        min=1,
        metavar="TOKENS",
        help="openai backend: the server's context length, for servers that do not report it (vLLM's /models "
        "does); history is trimmed to fit. Env: AGENT_CONTEXT_LIMIT.",
    ),
]
CheckServerFrameOption = Annotated[
    bool | None,
    typer.Option(
        "--check-server-frame/--no-check-server-frame",
        rich_help_panel=PANEL,
        show_default=False,
        help="openai backend: compare the server's prompt token count with the screenshot's to catch a server-side "
        "resize (one short extra request per screen size; default on). Env: AGENT_CHECK_SERVER_FRAME.",
    ),
]
AdapterOption = Annotated[
    str | None,
    typer.Option(
        "--adapter",
        rich_help_panel=PANEL,
        show_default=False,
        metavar="DIR",
        help="local backend: a LoRA checkpoint (as `swift sft` writes it) merged into --model's weights at load. "
        "Env: AGENT_ADAPTER.",
    ),
]


@dataclass(frozen=True)
class ModelFlags:
    """The model flags as given on the command line (None = not given): the group every reasoning command takes."""

    backend: BackendOption = None
    model: ModelOption = None
    base_url: BaseUrlOption = None
    api_key_env: ApiKeyEnvOption = None
    max_pixels: MaxPixelsOption = None
    min_pixels: MinPixelsOption = None
    dialect: DialectOption = None
    coords: CoordsOption = None
    max_new_tokens: MaxNewTokensOption = None
    source: SourceOption = None
    script: ScriptOption = None
    temperature: TemperatureOption = None
    request_timeout: RequestTimeoutOption = None
    max_retries: MaxRetriesOption = None
    image_format: ImageFormatOption = None
    jpeg_quality: JpegQualityOption = None
    torch_device: TorchDeviceOption = None
    fast: FastOption = None
    grammar: GrammarOption = None
    adapter: AdapterOption = None
    structured_output: StructuredOutputOption = None
    context_limit: ContextLimitOption = None
    check_server_frame: CheckServerFrameOption = None


# -- resolution --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelChoice:
    settings: BackendSettings
    dialect: str  # a name get_dialect knows
    coordinates: Coordinates
    # Where each setting given anywhere came from ("--model", "task file", "AGENT_MODEL"), for -v output.
    origins: Mapping[str, str]
    match: ModelMatch | None = None  # the registry's family for the model, and why; None when unknown

    def public_dict(self) -> dict[str, Any]:
        """What a recorded run stores about the model: no API key."""
        return {**self.settings.public_dict(), "dialect": self.dialect, "coordinates": self.coordinates}


@dataclass(frozen=True)
class _Knob:
    flag: str
    env: str
    parse: Callable[[Any], Any] = str
    field: str | None = None  # the BackendSettings field, where the name differs or it is one


_KNOBS: dict[str, _Knob] = {
    "backend": _Knob("--backend", "AGENT_BACKEND", field="kind"),
    "model": _Knob("--model", "AGENT_MODEL", field="model"),
    "base_url": _Knob("--base-url", "AGENT_BASE_URL", field="base_url"),
    "api_key_env": _Knob("--api-key-env", "AGENT_API_KEY_ENV"),
    "min_pixels": _Knob("--min-pixels", "AGENT_MIN_PIXELS", parse_pixels, "min_pixels"),
    "max_pixels": _Knob("--max-pixels", "AGENT_MAX_PIXELS", parse_pixels, "max_pixels"),
    "dialect": _Knob("--dialect", "AGENT_DIALECT"),
    "coords": _Knob("--coords", "AGENT_COORDS"),
    "max_new_tokens": _Knob("--max-new-tokens", "AGENT_MAX_NEW_TOKENS", int, "max_new_tokens"),
    "source": _Knob("--source", "AGENT_SOURCE", field="source"),
    "script": _Knob("--script", "AGENT_SCRIPT", Path, "script"),
    "temperature": _Knob("--temperature", "AGENT_TEMPERATURE", float, "temperature"),
    "request_timeout": _Knob("--request-timeout", "AGENT_REQUEST_TIMEOUT", float, "timeout_s"),
    "max_retries": _Knob("--max-retries", "AGENT_MAX_RETRIES", int, "max_retries"),
    "image_format": _Knob("--image-format", "AGENT_IMAGE_FORMAT", field="image_format"),
    "jpeg_quality": _Knob("--jpeg-quality", "AGENT_JPEG_QUALITY", int, "jpeg_quality"),
    "torch_device": _Knob("--torch-device", "AGENT_TORCH_DEVICE", field="torch_device"),
    "fast": _Knob("--fast/--no-fast", "AGENT_FAST", parse_bool, "fast"),
    "grammar": _Knob("--grammar/--no-grammar", "AGENT_GRAMMAR", parse_bool),  # -> settings.grammar by dialect
    "adapter": _Knob("--adapter", "AGENT_ADAPTER", field="adapter"),
    "structured_output": _Knob("--structured-output", "AGENT_STRUCTURED_OUTPUT", field="structured_output"),
    "context_limit": _Knob("--context-limit", "AGENT_CONTEXT_LIMIT", int, "context_limit"),
    "check_server_frame": _Knob(
        "--check-server-frame/--no-check-server-frame", "AGENT_CHECK_SERVER_FRAME", parse_bool, "check_server_frame"
    ),
}


def resolve_model_settings(
    flags: ModelFlags | None = None, *, environ: Mapping[str, str], task: Mapping[str, Any] | None = None
) -> ModelChoice:
    """``flags`` over ``task`` (keys named like the flags) over ``environ`` over the defaults."""
    unknown = set(task or {}) - set(_KNOBS)
    if unknown:
        raise ModelOptionError(f"unknown model setting(s) in the task file: {', '.join(sorted(unknown))}")
    values, origins = _pick(dataclasses.asdict(flags or ModelFlags()), task or {}, environ)
    values.setdefault("backend", _infer_backend(values))
    fields = {target: value for name, value in values.items() if (target := _KNOBS[name].field)}
    if fields.get("adapter") is not None and fields["kind"] != "local":  # named by where it came from
        raise ModelOptionError(
            f"{origins['adapter']}: a LoRA adapter is merged by the local backend, not "
            f"--backend {fields['kind']}; serve a merged model there "
            "(swift export --adapters CKPT --merge_lora true)"
        )
    if fields["kind"] == "openai":
        fields["api_key"] = _api_key(values.get("api_key_env"), origins.get("api_key_env"), environ)
    if values.get("dialect") is not None:  # as the registry spells it, from whichever source it came
        try:
            values["dialect"] = check_dialect_name(str(values["dialect"]))
        except ValueError as error:
            raise ModelOptionError(f"{origins['dialect']}: {error}") from None
    setup = model_setup(
        str(fields.get("model") or DEFAULT_MODEL),
        dialect=values.get("dialect"),
        coordinates=values.get("coords"),
        min_pixels=fields.get("min_pixels"),
        max_pixels=fields.get("max_pixels"),
    )
    if setup.match is None and values.get("dialect") is None:
        log.warning("%s", unknown_model_message(setup.model))
    fields.update(min_pixels=setup.frame.min_pixels, max_pixels=setup.frame.max_pixels, patch_factor=setup.frame.factor)
    if values.get("grammar"):
        if setup.dialect not in GRAMMAR_DIALECTS:
            raise ModelOptionError(
                f"--grammar constrains the {' and '.join(GRAMMAR_DIALECTS)} answer forms only, "
                f"not {setup.dialect}'s: run without --grammar"
            )
        fields["grammar"] = f"{setup.dialect}-relative" if setup.coordinates == "relative" else setup.dialect
    try:
        settings = BackendSettings(**fields)
    except ValidationError as error:
        raise ModelOptionError(_describe(error, origins)) from None
    return ModelChoice(
        settings=settings, dialect=setup.dialect, coordinates=setup.coordinates, origins=origins, match=setup.match
    )


def unknown_model_message(model: str) -> str:
    """What to tell the user about a model the registry does not know."""
    return (
        f"the model {model!r} is not one `agent models` knows, so its answer format is a guess (Qwen2.5-VL: "
        f"dialect qwen, pixels); name it with --dialect {'|'.join(dialect_names())} (and --coords)"
    )


def _pick(flags: Mapping[str, Any], task: Mapping[str, Any], environ: Mapping[str, str]) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name, knob in _KNOBS.items():
        if flags[name] is not None:
            values[name], origins[name] = flags[name], knob.flag
        elif task.get(name) is not None:
            values[name], origins[name] = task[name], f"the task file's model.{name}"
        elif environ.get(knob.env, "").strip():
            try:
                values[name] = knob.parse(environ[knob.env].strip())
            except ValueError as error:
                raise ModelOptionError(f"{knob.env}={environ[knob.env]!r}: {error}") from None
            origins[name] = knob.env
    return values, origins


def _infer_backend(values: Mapping[str, Any]) -> str:
    if values.get("script") is not None:
        return "scripted"
    if values.get("base_url") is not None:
        return "openai"
    return "local"


def _api_key(variable: str | None, origin: str | None, environ: Mapping[str, str]) -> SecretStr | None:
    if variable is None:
        key = environ.get(DEFAULT_API_KEY_ENV, "").strip()
        return SecretStr(key) if key else None
    key = environ.get(variable, "").strip()
    if not key:
        raise ModelOptionError(
            f"the environment variable {variable} (named by {origin}) is not set or empty; "
            "export it with the server's API key, or drop the setting for a server without keys"
        )
    return SecretStr(key)


def _describe(error: ValidationError, origins: Mapping[str, str]) -> str:
    """A settings validation error in the user's terms: which flag/task key/variable and why."""
    by_field = {knob.field: name for name, knob in _KNOBS.items() if knob.field}
    problems = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        name = by_field.get(field, field)
        where = origins.get(name, _KNOBS[name].flag if name in _KNOBS else field)
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(problems)
