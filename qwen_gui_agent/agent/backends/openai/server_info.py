"""What an OpenAI-compatible server says about itself at ``GET {base_url}/models``.

vLLM lists each served model with ``owned_by: "vllm"`` and its context length as ``max_model_len``;
SGLang answers ``owned_by: "sglang"`` (recent versions add ``max_model_len`` too). Other servers
list models without either, or fail the request (``transformers serve`` answers 500 when the
Hugging Face cache directory does not exist): then nothing is known, and that is not an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .replies import ReplyProblem, decode_json, get_with_deadline

log = logging.getLogger(__name__)

KNOWN_ENGINES = ("vllm", "sglang")
MAX_LISTED = 50  # model ids kept from a listing (an error message names them)
MAX_ID_CHARS = 200
MAX_LISTING_BYTES = 4 * 1024 * 1024  # vLLM lists each model and LoRA module in about 300 bytes


@dataclass(frozen=True)
class ServerInfo:
    engine: str | None = None  # "vllm" | "sglang" when the server says so
    max_model_len: int | None = None  # the served model's context length in tokens
    listed: bool = False  # /models answered with a model list at all
    models: tuple[str, ...] = ()  # the ids it lists: what --model may name on this server


def read_models_listing(payload: Any, model: str) -> ServerInfo:
    """The engine and context length of ``model`` (else of the first listed model) in a /models reply."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        return ServerInfo()
    entries = [entry for entry in payload["data"] if isinstance(entry, Mapping)]
    if not entries:
        return ServerInfo(listed=True)
    entry = next((item for item in entries if item.get("id") == model), entries[0])
    owner = str(entry.get("owned_by") or "").lower()
    length = entry.get("max_model_len")
    return ServerInfo(
        engine=owner if owner in KNOWN_ENGINES else None,
        max_model_len=length if isinstance(length, int) and not isinstance(length, bool) and length > 0 else None,
        listed=True,
        models=tuple(
            str(item["id"])[:MAX_ID_CHARS] for item in entries[:MAX_LISTED] if isinstance(item.get("id"), str)
        ),
    )


def fetch_server_info(
    client: httpx.Client, model: str, *, deadline_s: float, max_bytes: int = MAX_LISTING_BYTES
) -> ServerInfo:
    """Ask the server once, within ``deadline_s`` (``--request-timeout``) and ``max_bytes``, and read the reply with
    the chat reply's JSON bounds; any failure (404, 500, not JSON, no connection, a limit) means "nothing known"."""
    try:
        # A one-off probe on a connection of its own: a server that fails it with an unhandled error
        # (transformers serve's 500) may drop the connection after answering, and the next request
        # must not find that dead connection in the pool (it read as "connection reset by peer").
        reply = get_with_deadline(
            client, "/models", deadline_s=deadline_s, max_bytes=max_bytes, headers={"Connection": "close"}
        )
    except httpx.HTTPError as error:
        log.info("GET /models failed (%s): the server's engine and context length stay unknown", error)
        return ServerInfo()
    except ReplyProblem as problem:  # too large, too slow: a server that lists its models does neither
        log.warning("GET /models: %s; the server's engine and context length stay unknown", problem.problem)
        return ServerInfo()
    if reply.status != 200:
        log.info("GET /models answered HTTP %d: the server's engine and context length stay unknown", reply.status)
        return ServerInfo()
    try:
        return read_models_listing(decode_json(reply), model)
    except ReplyProblem as problem:
        log.warning("GET /models: %s; the server's engine and context length stay unknown", problem.problem)
        return ServerInfo()
