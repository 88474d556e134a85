"""The model flags shared by every command that reasons (``agent run``, ``agent eval`` ...).

``ModelFlags`` is the flag group (commands/flag_groups.py adds it to a command whole): one typer
option alias per setting, each naming its ``AGENT_*`` environment variable in its help.
``model_settings.resolve_model_settings`` turns the flags, a task file's ``model`` section and the
environment into a ``ModelChoice``.

The API key is never a flag (shell history, process lists): ``--api-key-env VAR``
names the variable that holds it (default ``AGENT_API_KEY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import typer

from ...tools.dialects import check_dialect_name, dialect_names
from ...tools.frames import parse_pixels

PANEL = "Model"


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
