"""Reading an OpenAI-compatible server's reply without trusting it.

Three limits, each ending in ``ReplyProblem`` (the backend retries it, then
raises ``BackendRequestError``), never in an internal error or a hung run:

- **a deadline per attempt.** httpx's timeouts bound each socket read, so a
  server sending a byte a second holds a request for as long as it likes. Each
  attempt opens its own connection (``fresh_connection_limits``), a watchdog
  timer shuts that connection's socket at the deadline, and the read fails at
  once; the deadline covers connecting, sending, waiting and reading.
- **a size cap on the decoded body.** Compressed replies are decoded here, a
  bounded piece at a time, so a gzip reply that expands to gigabytes costs at
  most the cap.
- **the shape.** A well-formed JSON reply can still hold ``tool_calls`` as a
  list of strings, ``usage`` as a list, content parts whose text is a number,
  JSON nested 200,000 deep or a 5,000-digit integer: each is named, not
  tripped over.

The API key is masked (``mask_key``) in every text built from a reply: a server
may echo the request's Authorization header in its error body.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ...files.bounded_json import JsonLimitError, JsonLimits, loads_bounded
from ..base import Usage

EXCERPT_CHARS = 300
DEFAULT_MAX_REPLY_BYTES = 64 * 1024 * 1024
MAX_REPLY_DEPTH = 32  # a chat completion is about 6 levels deep
REPLY_LIMITS = JsonLimits(max_depth=MAX_REPLY_DEPTH, max_number_chars=40)  # standard JSON: no NaN, no 1e400
_MAX_COUNT = 2**53  # token counts past this are not counts
ACCEPT_ENCODING = "gzip, deflate"  # only what this module decodes itself, under the cap
API_KEY_MASK = "[API key]"


class ReplyProblem(Exception):
    """The reply broke a limit or is not the chat completion it claims to be."""

    def __init__(self, problem: str, *, excerpt: str = "") -> None:
        self.problem = problem
        self.excerpt = excerpt
        super().__init__(problem)


class DeadlinePassed(ReplyProblem):
    """The attempt ran past its deadline (the watchdog cut the connection)."""


@dataclass(frozen=True)
class RawReply:
    status: int
    headers: httpx.Headers
    body: bytes

    def text(self, limit: int = EXCERPT_CHARS, *, api_key: str | None = None) -> str:
        """The start of the body as text (an excerpt for error messages), the API key masked before the cut
        (so no part of it survives at the cut either)."""
        extra = len(api_key) if api_key else 0
        return mask_key(self.body[: (limit + extra) * 4].decode("utf-8", errors="replace"), api_key)[:limit]


def fresh_connection_limits() -> httpx.Limits:
    """No idle connection is kept: each attempt connects anew, so its watchdog knows the socket from the start."""
    return httpx.Limits(max_keepalive_connections=0)


def post_with_deadline(
    client: httpx.Client,
    path: str,
    body: Mapping[str, Any],
    *,
    deadline_s: float,
    max_bytes: int = DEFAULT_MAX_REPLY_BYTES,
) -> RawReply:
    """POST ``body`` as JSON and read the whole reply, within ``deadline_s`` and ``max_bytes`` (decoded)."""
    return _request_with_deadline(client, "POST", path, deadline_s=deadline_s, max_bytes=max_bytes, body=body)


def get_with_deadline(
    client: httpx.Client, path: str, *, deadline_s: float, max_bytes: int, headers: Mapping[str, str] | None = None
) -> RawReply:
    """GET ``path`` and read the whole reply within ``deadline_s`` and ``max_bytes`` (the ``/models`` probe)."""
    return _request_with_deadline(client, "GET", path, deadline_s=deadline_s, max_bytes=max_bytes, headers=headers)


def _request_with_deadline(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    deadline_s: float,
    max_bytes: int,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> RawReply:
    watchdog = _Watchdog(deadline_s)
    try:
        with client.stream(
            method,
            path,
            json=body,
            headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
            timeout=httpx.Timeout(deadline_s),
            extensions={"trace": watchdog.trace},
        ) as response:
            content = _read_capped(response, watchdog, max_bytes)
            return RawReply(response.status_code, response.headers, content)
    except httpx.TransportError:
        if watchdog.fired:
            raise DeadlinePassed(f"no reply within {deadline_s:g} s") from None
        raise
    finally:
        watchdog.cancel()


class _Watchdog:
    """Shuts the attempt's socket down at the deadline, whatever phase the request is in."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.deadline = time.monotonic() + deadline_s
        self.fired = False
        self._socket: Any = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's trace hook: remember the socket once the connection (TCP, then TLS) is up."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            with self._lock:
                self._socket = stream.get_extra_info("socket") if stream is not None else None
                late = self.fired
            if late:
                self._shut()

    def passed(self) -> bool:
        return self.fired or time.monotonic() >= self.deadline

    def cancel(self) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
        self._shut()

    def _shut(self) -> None:
        with self._lock:
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: the attempt is over anyway
                sock.shutdown(2)  # SHUT_RDWR: a blocked recv returns at once


def _read_capped(response: httpx.Response, watchdog: _Watchdog, max_bytes: int) -> bytes:
    decoder = _decoder(response.headers.get("content-encoding", ""))
    content = bytearray()
    for chunk in response.iter_raw():
        if decoder is not None:
            # Never more than one byte past the cap: what is left stays compressed in unconsumed_tail.
            chunk = decoder.decompress(chunk, max_bytes + 1 - len(content))
        content += chunk
        if len(content) > max_bytes:
            raise ReplyProblem(f"the reply is larger than {max_bytes:,} bytes")
        if watchdog.passed():
            break
    if watchdog.passed():  # a reply cut at the deadline can look complete (a close-delimited body)
        raise DeadlinePassed(f"no reply within {watchdog.deadline_s:g} s")
    if decoder is not None:
        content += decoder.flush()
        if len(content) > max_bytes:
            raise ReplyProblem(f"the reply is larger than {max_bytes:,} bytes")
    return bytes(content)


def _decoder(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        return zlib.decompressobj(wbits=zlib.MAX_WBITS | 32)  # gzip or zlib framing, told apart by the header
    raise ReplyProblem(f"the reply is encoded as {encoding!r}, which was not asked for ({ACCEPT_ENCODING})")


# -- the body ------------------------------------------------------------------------------------------------


def decode_json(reply: RawReply) -> Any:
    """The reply's JSON; ReplyProblem when it is not JSON, or JSON too deep or with numbers past the limits
    (the bounded reader every outside JSON goes through: ``agent.files.bounded_json``)."""
    try:
        return loads_bounded(reply.body, REPLY_LIMITS)
    except JsonLimitError as error:
        raise ReplyProblem(f"reply is not JSON within limits: {error}", excerpt=reply.text()) from None


@dataclass(frozen=True)
class ChatReply:
    """What a chat completion says: the answer, as sent and stripped, and how and why it ended."""

    raw_text: str  # content, then tool calls as <tool_call> blocks, whitespace as the server sent it
    usage: Usage
    model: str | None
    finish_reason: str | None  # "stop", "length" (the max_tokens cap) ... when the server says

    @property
    def text(self) -> str:
        return self.raw_text.strip()


def read_chat_completion(payload: Any) -> ChatReply:
    """The answer, token usage, model name and finish reason of a chat completion; ReplyProblem naming a
    wrong field."""
    if not isinstance(payload, dict):
        raise ReplyProblem("reply is not a chat completion (not a JSON object)")
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ReplyProblem("reply is not a chat completion (no choices)")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise ReplyProblem("reply is not a chat completion (choices[0].message is not an object)")
    text = _content_text(message.get("content")) + _tool_call_blocks(message.get("tool_calls"))
    model, finish = payload.get("model"), choices[0].get("finish_reason")
    return ChatReply(
        text,
        _usage(payload.get("usage")),
        model if isinstance(model, str) and model else None,
        finish if isinstance(finish, str) else None,
    )


def _content_text(content: Any) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise ReplyProblem(f"message.content is a {_json_type(content)}, not text or a list of parts")
    texts = []
    for part in content:  # some servers answer in content parts
        text = part.get("text", "") if isinstance(part, dict) else ""
        if not isinstance(text, str):
            raise ReplyProblem(f"a content part's text is a {_json_type(text)}, not text")
        texts.append(text)
    return "".join(texts)


def _tool_call_blocks(tool_calls: Any) -> str:
    """A server started with automatic tool parsing (vLLM --enable-auto-tool-choice) moves Qwen's
    <tool_call> blocks out of the text: put them back so the dialect reads one format."""
    if tool_calls is None:
        return ""
    if not isinstance(tool_calls, list):
        raise ReplyProblem(f"message.tool_calls is a {_json_type(tool_calls)}, not a list")
    blocks = []
    for call in tool_calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise ReplyProblem("message.tool_calls holds an entry without a function object")
        name, arguments = function.get("name") or "", function.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, (str, dict)):
            raise ReplyProblem("a tool call's function name is not text or its arguments neither text nor object")
        if isinstance(arguments, str):
            # Text that is no JSON is kept as it is: the dialect reports it to the model.
            with contextlib.suppress(ValueError, RecursionError):
                arguments = json.loads(arguments)
        block = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
        blocks.append(f"\n<tool_call>\n{block}\n</tool_call>")
    return "".join(blocks)


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    if not isinstance(usage, dict):
        raise ReplyProblem(f"usage is a {_json_type(usage)}, not an object")
    return Usage(
        prompt_tokens=_count(usage.get("prompt_tokens")), completion_tokens=_count(usage.get("completion_tokens"))
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_COUNT else None


def _json_type(value: object) -> str:
    names = {dict: "JSON object", list: "JSON list", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# -- messages ------------------------------------------------------------------------------------------------


def mask_key(text: str, api_key: str | None) -> str:
    """``text`` with the API key replaced by a mask (servers echo headers in error bodies)."""
    return text.replace(api_key, API_KEY_MASK) if api_key else text


def server_message(reply: RawReply, api_key: str | None = None) -> str:
    """The error text a server put in its reply (OpenAI, vLLM and FastAPI shapes), else an excerpt of the body;
    the API key masked."""
    try:
        data = json.loads(reply.body)
    except (ValueError, RecursionError):
        return reply.text(api_key=api_key) or f"HTTP {reply.status}"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"]:
            return mask_key(error["message"], api_key)[:EXCERPT_CHARS]
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return mask_key(data[key], api_key)[:EXCERPT_CHARS]
    return reply.text(api_key=api_key)
