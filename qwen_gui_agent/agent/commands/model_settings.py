"""Model settings for a command: its ``ModelFlags``, a task file's ``model`` section and the environment.

``resolve_model_settings(flags, environ=..., task=...)`` turns them into a ``ModelChoice``. Each
setting comes from the first of: the flag, the task file, its ``AGENT_*`` environment variable,
the default; the model's family (``tools.models.model_setup``) decides the dialect, coordinates
and frame bounds not given. The environment is read only here, at the edge. A value that cannot
be used is a ``ModelOptionError`` naming the flag, task key or variable it came from.

The API key is read from the variable ``--api-key-env`` names (default ``AGENT_API_KEY``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from pydantic import SecretStr, ValidationError

from ...tasks.schema import parse_bool
from ...tools.dialects import check_dialect_name, dialect_names
from ...tools.dialects.base import Coordinates
from ...tools.frames import parse_pixels
from ...tools.models import DEFAULT_MODEL, ModelMatch, model_setup
from ..backends.grammar.rules import GRAMMAR_DIALECTS
from ..backends.settings import BackendSettings
from .model_options import ModelFlags

log = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "AGENT_API_KEY"


class ModelOptionError(typer.BadParameter):
    """A model setting that cannot be used; says which flag, task key or variable gave it."""


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
