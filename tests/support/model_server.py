"""A real OpenAI-compatible HTTP server on 127.0.0.1 that plays a scripted model.

For tests of the openai backend and of the whole agent loop: it serves
``POST /v1/chat/completions`` (and ``GET /v1/models``) from a queue of scripted
replies, records every request it gets (body, headers, decoded images), and can
misbehave on purpose: an HTTP error with or without Retry-After, a reply slower
than the client's timeout, a dropped connection, a body that is not JSON, a body
trickled a byte at a time (``deliveries`` then says how much of it the client
took before hanging up), a compressed body (``Reply.compressed``).

    with ModelServer() as server:
        server.push(Reply.answer("Action: click(start_box='(10,20)')"))
        server.push(lambda request: Reply.answer(f"saw {len(request.images())} image(s)"))
        ... point the backend at server.base_url ...
        server.requests[0].body["model"]

A reply may be a ``Reply``, a plain string (an answer), or a callable taking the
``RecordedRequest`` and returning either. With the queue empty the server
answers 410 with a message saying so (a 4xx: the client fails at once, loudly).

Like a real server it counts prompt tokens itself (``TokenCounter``): text at one token per four
characters, each image as vLLM does for the served checkpoint after resizing it with that
checkpoint's preprocessor bounds (Qwen2.5-VL family: 14-pixel patches merged 2x2, 3136..12845056
pixels; Qwen3-VL family: 16-pixel patches merged 2x2, 65536..16777216, as their
preprocessor_config.json files say; smart_resize written out apart from the agent's), plus its two
markers. The counter follows the served model's name unless one is given. An answer's
``usage.prompt_tokens`` is that count unless the reply says otherwise. The agent's frame-check requests
(``max_tokens`` 1 with images: the twin, every image one small square, and with ``--grammar`` the
one-token probe of the request before it) are answered from the count without using up the script,
and recorded apart in ``calibrations``. ``GET /v1/models`` lists the model with what ``listing`` adds (``owned_by``,
``max_model_len``, as vLLM does).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import math
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from PIL import Image

log = logging.getLogger(__name__)

COUNTED = -1  # Reply.answer(prompt_tokens=COUNTED): the server's own count of the request


@dataclass(frozen=True)
class TokenCounter:
    """How this server counts a prompt: text by characters, images as the checkpoint's processor does.

    The defaults are Qwen2.5-VL's (``preprocessor_config.json``: patch 14, merge 2, min_pixels
    3136, max_pixels 12845056); ``qwen3()`` gives Qwen3-VL's (patch 16, merge 2, size.shortest_edge
    65536, size.longest_edge 16777216). ``max_pixels``/``min_pixels`` stand for a server started with
    other bounds (vLLM's --mm-processor-kwargs).
    """

    max_pixels: int = 16384 * 28 * 28
    min_pixels: int = 4 * 28 * 28
    factor: int = 28  # patch size x merge size
    chars_per_token: int = 4

    @classmethod
    def qwen3(cls, **bounds: int) -> TokenCounter:
        return cls(**{"max_pixels": 16384 * 32 * 32, "min_pixels": 64 * 32 * 32, "factor": 32, **bounds})

    @classmethod
    def for_model(cls, name: str) -> TokenCounter:
        """The counter of the checkpoint a served name stands for (what vLLM loads for it)."""
        lowered = name.lower().replace("_", "-")
        if any(key in lowered for key in ("qwen3", "gui-owl", "guiowl")):
            return cls.qwen3()
        return cls()

    def served_size(self, width: int, height: int) -> tuple[int, int]:
        """The processor's resize rule (smart_resize), written out here apart from the agent's (tools/frames.py)."""
        f = self.factor
        h, w = max(f, round(height / f) * f), max(f, round(width / f) * f)
        if h * w > self.max_pixels:
            beta = math.sqrt(height * width / self.max_pixels)
            h, w = max(f, math.floor(height / beta / f) * f), max(f, math.floor(width / beta / f) * f)
        elif h * w < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (height * width))
            h, w = math.ceil(height * beta / f) * f, math.ceil(width * beta / f) * f
        return w, h

    def image_tokens(self, width: int, height: int) -> int:
        w, h = self.served_size(width, height)
        return (w // self.factor) * (h // self.factor)

    def count(self, request: RecordedRequest) -> int:
        text = sum(-(-len(part) // self.chars_per_token) for part in request.texts())
        images = sum(self.image_tokens(*image.size) + 2 for image in request.images())
        return text + images + 3 * len(request.messages())  # role and turn markers


@dataclass(frozen=True)
class Reply:
    """One scripted response; build with the class methods."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait this long before answering (past the client's timeout: a "slow" server)
    drop: bool = False  # close the connection without any response
    count_prompt: bool = False  # usage.prompt_tokens becomes the server's count of the request
    trickle_s: float = 0.0  # send the body one byte at a time, this long apart
    flood_bytes: int = 0  # send this many bytes of ``body`` repeated, with no Content-Length (a reply without end)

    @classmethod
    def answer(
        cls,
        text: str,
        *,
        prompt_tokens: int | None = COUNTED,
        completion_tokens: int | None = None,
        model: str = "scripted-model",
        delay_s: float = 0.0,
        finish_reason: str = "stop",
    ) -> Reply:
        """A chat completion answering ``text``; ``finish_reason="length"`` for one cut at max_tokens."""
        completion_tokens = len(text.split()) if completion_tokens is None else completion_tokens
        payload: dict[str, Any] = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"index": 0, "finish_reason": finish_reason, "message": {"role": "assistant", "content": text}}
            ],
        }
        if prompt_tokens is not None:
            payload["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        reply = cls.json(payload, delay_s=delay_s)
        return replace(reply, count_prompt=prompt_tokens == COUNTED)

    @classmethod
    def json(
        cls, payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None, delay_s: float = 0.0
    ) -> Reply:
        return cls(
            status=status,
            body=json.dumps(payload).encode("utf-8"),
            headers={"Content-Type": "application/json", **(headers or {})},
            delay_s=delay_s,
        )

    @classmethod
    def error(cls, status: int, message: str = "scripted failure", *, retry_after: str | None = None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return cls.json(
            {"error": {"message": message, "type": "scripted", "code": status}}, status=status, headers=headers
        )

    @classmethod
    def slow(cls, delay_s: float, text: str = "too late") -> Reply:
        return cls.answer(text, delay_s=delay_s)

    @classmethod
    def dropped(cls) -> Reply:
        return cls(drop=True)

    @classmethod
    def compressed(cls, body: bytes, encoding: str = "gzip") -> Reply:
        """``body`` sent gzip-compressed (``Content-Encoding: gzip``)."""
        return cls(
            status=200,
            body=gzip.compress(body, compresslevel=9),
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        )

    @classmethod
    def trickled(cls, reply: Reply, every_s: float) -> Reply:
        """``reply`` with its body sent a byte at a time, ``every_s`` apart."""
        return cls(status=reply.status, body=reply.body, headers=reply.headers, trickle_s=every_s)

    @classmethod
    def flood(cls, total_bytes: int, piece: bytes = b'{"data": [' + b" " * 65_526) -> Reply:
        """A body that goes on and on (``piece`` repeated up to ``total_bytes``), closed only by the server."""
        return cls(status=200, body=piece, headers={"Content-Type": "application/json"}, flood_bytes=total_bytes)

    @classmethod
    def malformed(cls, body: bytes = b'{"choices": [{"message": ') -> Reply:
        return cls(status=200, body=body, headers={"Content-Type": "application/json"})


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    raw: bytes
    body: Any  # parsed JSON, or None when the body was not JSON

    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def image_urls(self) -> list[str]:
        return [
            part["image_url"]["url"]
            for message in self.messages()
            for part in _parts(message)
            if part.get("type") == "image_url"
        ]

    def images(self) -> list[Image.Image]:
        """Every image of the request decoded from its data URL, in order."""
        images = []
        for url in self.image_urls():
            _, _, data = url.partition(",")
            image = Image.open(io.BytesIO(base64.b64decode(data)))
            image.load()
            images.append(image)
        return images

    def texts(self) -> list[str]:
        texts = []
        for message in self.messages():
            if isinstance(message.get("content"), str):
                texts.append(message["content"])
            texts.extend(part["text"] for part in _parts(message) if part.get("type") == "text")
        return texts


def _parts(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    return [part for part in content if isinstance(part, dict)] if isinstance(content, list) else []


ScriptItem = Reply | str | Callable[[RecordedRequest], "Reply | str"]


@dataclass(frozen=True)
class Delivery:
    """How much of a trickled body went out before the client hung up (or all of it)."""

    size: int
    sent: int


class ModelServer:
    """Threaded loopback server; start it with ``with`` or ``start()``, stop with ``close()``."""

    def counter_for(self, request: RecordedRequest) -> TokenCounter:
        """How this server counts ``request``: as told, else as vLLM does for the model the request names."""
        if self.counter is not None:
            return self.counter
        named = request.body.get("model") if isinstance(request.body, dict) else None
        return TokenCounter.for_model(str(named or self.model))

    def __init__(
        self,
        replies: Iterable[ScriptItem] = (),
        *,
        model: str = "scripted-model",
        counter: TokenCounter | None = None,
        listing: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.counter = counter  # None: the checkpoint the request's model name stands for
        self.listing = dict(listing or {})
        self._lock = threading.Lock()
        self._queue: deque[ScriptItem] = deque(replies)
        self._requests: list[RecordedRequest] = []
        self._calibrations: list[RecordedRequest] = []
        self._models_queue: deque[Reply] = deque()
        self._deliveries: list[Delivery] = []
        self._delivered = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, owner=self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def deliveries(self, count: int, timeout_s: float = 60.0) -> list[Delivery]:
        """The first ``count`` trickled bodies' deliveries, waiting until that many have ended."""
        with self._delivered:
            self._delivered.wait_for(lambda: len(self._deliveries) >= count, timeout=timeout_s)
            return list(self._deliveries)

    @property
    def calibrations(self) -> list[RecordedRequest]:
        """The frame-check requests (twins and probes) the server answered from its own count."""
        with self._lock:
            return list(self._calibrations)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def push(self, *replies: ScriptItem) -> None:
        with self._lock:
            self._queue.extend(replies)

    def push_models(self, *replies: Reply) -> None:
        """Replies to ``GET /v1/models``, in order, before the usual listing."""
        with self._lock:
            self._models_queue.extend(replies)

    def start(self) -> ModelServer:
        # A short poll interval makes close() quick (shutdown waits for the loop's next poll).
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="model-server", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in a "slow" reply
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- called from handler threads --

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            (self._calibrations if is_frame_check(request) else self._requests).append(request)

    def _counted(self, request: RecordedRequest, reply: Reply) -> Reply:
        if not reply.count_prompt:
            return reply
        payload = json.loads(reply.body)
        usage = payload["usage"]
        usage["prompt_tokens"] = self.counter_for(request).count(request)
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return replace(reply, body=json.dumps(payload).encode("utf-8"))

    def _record_delivery(self, delivery: Delivery) -> None:
        with self._delivered:
            self._deliveries.append(delivery)
            self._delivered.notify_all()

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            item = self._queue.popleft() if self._queue else None
            served = len(self._requests)
        if item is None:
            return Reply.error(410, f"model_server: no scripted reply left for request {served}")
        if callable(item) and not isinstance(item, Reply):
            item = item(request)
        return self._counted(request, Reply.answer(item, model=self.model) if isinstance(item, str) else item)


def is_frame_check(request: RecordedRequest) -> bool:
    """One of the agent's frame-check requests (a twin, or the probe before a constrained request): one token
    asked of a prompt with images."""
    return isinstance(request.body, dict) and request.body.get("max_tokens") == 1 and bool(request.image_urls())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, owner: ModelServer):
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout test) makes our late write fail: expected, not worth a traceback.
        log.debug("model_server: connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # names as http.server's base class has them
        log.debug("model_server: " + format, *args)

    def do_GET(self) -> None:  # http.server dispatches on this spelling
        if self.path.rstrip("/") == "/v1/models":
            owner = self.server.owner
            with owner._lock:
                scripted = owner._models_queue.popleft() if owner._models_queue else None
            entry = {"id": owner.model, "object": "model", **owner.listing}
            self._send(scripted or Reply.json({"object": "list", "data": [entry]}))
        else:
            self._send(Reply.error(404, f"no such path {self.path}"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        request = RecordedRequest(
            method="POST",
            path=self.path,
            raw=raw,
            body=body,
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        owner = self.server.owner
        owner._record(request)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(Reply.error(404, f"no such path {self.path}"))
            return
        if is_frame_check(request):
            self._send(owner._counted(request, Reply.answer("x", completion_tokens=1, model=owner.model)))
            return
        self._send(owner._next_reply(request))

    def _send(self, reply: Reply) -> None:
        if reply.delay_s and self.server.owner._stopping.wait(reply.delay_s):
            return  # server closing: give up quietly
        if reply.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.flood_bytes:
            self._flood(reply)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if reply.trickle_s:
            self._trickle(reply)
        else:
            self.wfile.write(reply.body)

    def _flood(self, reply: Reply) -> None:
        self.send_header("Connection", "close")  # the end of the body is the end of the connection
        self.end_headers()
        self.close_connection = True
        sent = 0
        try:
            while sent < reply.flood_bytes and not self.server.owner._stopping.is_set():
                piece = reply.body[: reply.flood_bytes - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client hung up: how far it got is the point
            pass
        finally:
            self.server.owner._record_delivery(Delivery(size=reply.flood_bytes, sent=sent))

    def _trickle(self, reply: Reply) -> None:
        sent = 0
        try:
            self.wfile.flush()
            for index in range(len(reply.body)):
                if self.server.owner._stopping.wait(reply.trickle_s):
                    break
                self.wfile.write(reply.body[index : index + 1])
                self.wfile.flush()
                sent += 1
        except OSError:  # the client hung up: how far it got is the point
            self.close_connection = True
        finally:
            self.server.owner._record_delivery(Delivery(size=len(reply.body), sent=sent))
