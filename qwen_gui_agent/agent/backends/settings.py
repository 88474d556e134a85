"""What a model backend is told: one frozen settings object for all three kinds.

The CLI builds it from flags, a task file and the environment
(agent/commands/model_settings.py); code and tests build it directly. Frame bounds not
given come from the model's family in the registry (``tools.models.model_setup``), so
``BackendSettings(model="Qwen/Qwen3-VL-8B-Instruct")`` resizes at factor 32 whoever
builds it. The API key is a ``SecretStr`` kept out of ``repr``; ``public_dict()`` is
what a recorded run stores about the model, and it never holds the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ...tools.frames import MIN_PIXELS, PATCH_FACTOR, SERVING_MAX_PIXELS, FrameBounds
from ...tools.models import DEFAULT_MODEL, model_setup, resolve_model_name

BackendKind = Literal["local", "openai", "scripted"]
ModelSource = Literal["hub", "local", "modelscope"]
ImageFormat = Literal["png", "jpeg"]
# local: constrain answers to a dialect's action format (agent/backends/grammar/rules.py); "-relative"
# bounds points by 0..1000 instead of the image's pixels.
AnswerGrammarName = Literal["qwen", "uitars", "qwen-relative", "uitars-relative"]
StructuredOutputForm = Literal["auto", "vllm", "vllm-guided", "sglang", "sglang-regex", "openai-json-schema", "off"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # `vllm serve` and `sglang` listen here by default


def check_base_url(url: str) -> str:
    """An http(s) URL with a host, without its trailing slash; anything else is a typo to report now.

    ``localhost:8000/v1`` (no scheme) would otherwise reach the HTTP client as a URL of scheme
    "localhost" and fail at the first request, looking like a network fault.
    """
    url = url.strip().rstrip("/")
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        guess = f"; did you mean http://{url}?" if "://" not in url else ""
        raise ValueError(f"base_url {url!r} must start with http:// or https://{guess}")
    if not parsed.hostname:
        raise ValueError(f"base_url {url!r} names no host")
    try:
        parsed.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise ValueError(f"base_url {url!r} has a bad port") from None
    return url


class BackendSettings(BaseModel):
    """Everything a backend needs; irrelevant fields are ignored by the other kinds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: BackendKind = "local"
    model: str = DEFAULT_MODEL
    # openai: the server's API root (what OpenAI clients call base_url); requests go to {base_url}/chat/completions.
    base_url: str = DEFAULT_BASE_URL
    api_key: SecretStr | None = Field(default=None, repr=False)
    # The frame bounds: the agent resizes screenshots with these; the local processor gets the same. Those not
    # given are the model family's (see _frame_from_the_registry); the defaults here only type the fields.
    min_pixels: int = Field(default=MIN_PIXELS, gt=0)
    max_pixels: int = Field(default=SERVING_MAX_PIXELS, gt=0)
    # What smart_resize rounds each side to: patch size x merge size (28 Qwen2.5-VL, 32 Qwen3-VL; tools/models.py).
    patch_factor: int = Field(default=PATCH_FACTOR, gt=0)
    max_new_tokens: int = Field(default=512, gt=0)
    temperature: float = Field(default=0.0, ge=0.0)  # 0 = greedy
    # openai: per-request timeout, retries after the first attempt, and the backoff between them.
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    retry_initial_s: float = Field(default=1.0, ge=0)
    retry_max_wait_s: float = Field(default=30.0, ge=0)  # also caps a server's Retry-After
    max_reply_bytes: int = Field(default=64 * 1024 * 1024, gt=0)  # a reply body, decoded; larger ones fail
    image_format: ImageFormat = "png"
    jpeg_quality: int = Field(default=90, ge=1, le=100)
    # local: where the weights come from, which torch device, the fast decode path (None = on for CUDA).
    source: ModelSource = "hub"
    torch_device: str = "auto"  # auto | cpu | cuda | cuda:N
    attn_implementation: str | None = None  # None = flash_attention_2 when installed, else sdpa
    fast: bool | None = None
    grammar: AnswerGrammarName | None = None  # None: unconstrained answers (the default)
    # local: a LoRA checkpoint directory (as `swift sft` writes it), merged into the weights at load.
    adapter: str | None = None
    # openai: how --grammar travels (agent/backends/openai/structured_output.py); auto = from the server's /models.
    structured_output: StructuredOutputForm = "auto"
    # openai: the server's context length in tokens, for servers that do not say it (None: ask /models).
    context_limit: int | None = Field(default=None, gt=0)
    # openai: compare the server's prompt_tokens with our image token count to catch a resize (resize_check.py).
    check_server_frame: bool = True
    # scripted: the answers themselves, or a path (recorded run directory, or an answers file).
    script: tuple[str, ...] | Path | None = None

    @model_validator(mode="before")
    @classmethod
    def _frame_from_the_registry(cls, data: Any) -> Any:
        """Frame bounds not given are the model's family's (tools/models.py), never another family's."""
        if not isinstance(data, dict) or {"min_pixels", "max_pixels", "patch_factor"} <= data.keys():
            return data
        model = data.get("model")
        setup = model_setup(model if isinstance(model, str) and model.strip() else DEFAULT_MODEL)
        return {
            "min_pixels": setup.frame.min_pixels,
            "max_pixels": setup.frame.max_pixels,
            "patch_factor": setup.frame.factor,
            **data,
        }

    @field_validator("model")
    @classmethod
    def _resolve_short_name(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("model name is empty")
        return resolve_model_name(name)

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, url: str) -> str:
        return check_base_url(url)

    @field_validator("torch_device")
    @classmethod
    def _check_device(cls, device: str) -> str:
        device = device.strip().lower()
        if device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit()):
            return device
        raise ValueError(f"torch_device must be auto, cpu, cuda or cuda:N, not {device!r}")

    @model_validator(mode="after")
    def _check_field_combinations(self) -> BackendSettings:
        if self.min_pixels > self.max_pixels:
            raise ValueError(f"min_pixels {self.min_pixels} is above max_pixels {self.max_pixels}")
        if self.adapter is not None and self.kind != "local":
            raise ValueError(
                "adapter: a LoRA adapter is merged by the local backend; serve a merged model to the other backends"
            )
        if self.grammar is not None and self.temperature != 0:
            raise ValueError("grammar-constrained decoding is greedy: use it with temperature 0")
        return self

    @property
    def frame(self) -> FrameBounds:
        """The frame bounds as one value."""
        return FrameBounds(self.min_pixels, self.max_pixels, self.patch_factor)

    def public_dict(self) -> dict[str, Any]:
        """The settings as plain JSON data for records and logs: the API key left out, only whether one is set."""
        data = self.model_dump(mode="json", exclude={"api_key", "script"})
        data["api_key_set"] = self.api_key is not None
        if isinstance(self.script, Path):
            data["script"] = str(self.script)
        elif self.script is not None:
            data["script"] = f"{len(self.script)} answers"
        if self.kind == "scripted":  # a script answered: the model and server defaults were never involved
            del data["model"], data["base_url"]
        return data
