"""The openai backend against a hostile loopback server (issue 16, items 4 and 5).

Each well-formed-but-wrong reply shape ends in a typed, retried
BackendRequestError (and a good reply after it is used); a server trickling
its reply is cut at the attempt's deadline (the server sees the client hang up
mid-body); a gzip reply that expands far past the cap is never expanded; an
error body that echoes the Authorization header does not carry the key out.
"""

from __future__ import annotations

import json
import logging
import tracemalloc

import pytest
from pydantic import SecretStr

from qwen_gui_agent.agent.backends import BackendRequestError, BackendSettings, create_backend
from qwen_gui_agent.tools.messages import Message
from tests.support.model_server import ModelServer, Reply

API_KEY = "sk-hostile-0123456789abcdef"


def settings_for(server: ModelServer, **changes) -> BackendSettings:
    values = {
        "kind": "openai",
        "base_url": server.base_url,
        "model": "m",
        "max_retries": 1,
        "retry_initial_s": 0.01,
        "retry_max_wait_s": 0.05,
        "timeout_s": 10.0,
    }
    return BackendSettings(**{**values, **changes})


def completion(message: dict | None = None, **extra) -> dict:
    message = {"role": "assistant", "content": "hi"} if message is None else message
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message}], **extra}


HOSTILE_REPLIES = {
    "tool_calls as strings": Reply.json(completion({"role": "assistant", "content": "", "tool_calls": ["a", "b"]})),
    "tool_calls as an object": Reply.json(completion({"role": "assistant", "tool_calls": {"function": {}}})),
    "tool_call arguments as a number": Reply.json(
        completion({"role": "assistant", "tool_calls": [{"function": {"name": "computer_use", "arguments": 5}}]})
    ),
    "usage as a list": Reply.json(completion(usage=[1, 2, 3])),
    "content parts with a number as text": Reply.json(
        completion({"role": "assistant", "content": [{"type": "text", "text": 5}]})
    ),
    "content as a number": Reply.json(completion({"role": "assistant", "content": 12})),
    "200,000-deep list": Reply.malformed(b"[" * 200_000),
    "JSON nested 100 deep": Reply.malformed(json.dumps(completion(usage=json.loads("[" * 100 + "]" * 100))).encode()),
    "5,000-digit integer": Reply.malformed(
        b'{"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": ' + b"7" * 5000 + b"}}"
    ),
    "content-encoding not asked for": Reply(body=b"{}", headers={"Content-Encoding": "br"}),
}


@pytest.mark.parametrize("name", HOSTILE_REPLIES)
def test_each_hostile_reply_shape_is_a_retried_backend_error(model_server: ModelServer, name: str) -> None:
    model_server.push(HOSTILE_REPLIES[name], HOSTILE_REPLIES[name])
    with create_backend(settings_for(model_server)) as backend, pytest.raises(BackendRequestError) as caught:
        backend.complete([Message.text("user", "hi")])
    assert "2 attempt(s)" in str(caught.value)
    assert len(model_server.requests) == 2


@pytest.mark.parametrize("name", ["tool_calls as strings", "usage as a list", "200,000-deep list"])
def test_a_good_reply_after_a_hostile_one_is_used(model_server: ModelServer, name: str) -> None:
    model_server.push(HOSTILE_REPLIES[name], Reply.answer("Action: wait()", prompt_tokens=7, completion_tokens=3))
    with create_backend(settings_for(model_server)) as backend:
        answer = backend.complete([Message.text("user", "hi")])
    assert answer.text == "Action: wait()" and answer.usage.prompt_tokens == 7


@pytest.mark.parametrize("every_s, timeout_s", [(0.05, 0.5), (1.0, 2.0)], ids=["20 bytes/s", "1 byte/s"])
def test_a_trickling_server_is_cut_at_the_attempts_deadline(model_server: ModelServer, every_s, timeout_s) -> None:
    # About 250 bytes, each well inside the read timeout: read on, the body would take 12 s at 20 bytes/s and over
    # 4 minutes at 1 byte/s (the audit's case: one attempt held 20 s with a 2 s timeout).
    model_server.push(Reply.trickled(Reply.answer("Action: wait()" + " " * 60), every_s=every_s))
    with (
        create_backend(settings_for(model_server, timeout_s=timeout_s, max_retries=0)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert f"no reply within {timeout_s:g} s" in str(caught.value)
    [delivery] = model_server.deliveries(1)
    assert delivery.sent < delivery.size  # the client hung up mid-body instead of reading on


def test_a_gzip_bomb_is_refused_without_expanding_it(model_server: ModelServer) -> None:
    # 64 MiB of answer in about 64 KiB on the wire; the cap is 1 MiB.
    bomb = json.dumps(completion({"role": "assistant", "content": "a" * (64 * 1024 * 1024)})).encode()
    model_server.push(Reply.compressed(bomb), Reply.compressed(bomb))
    del bomb
    settings = settings_for(model_server, max_reply_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        with create_backend(settings) as backend, pytest.raises(BackendRequestError) as caught:
            backend.complete([Message.text("user", "hi")])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "larger than 1,048,576 bytes" in str(caught.value)
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes"


def test_a_gzip_reply_within_the_cap_is_read(model_server: ModelServer) -> None:
    model_server.push(Reply.compressed(json.dumps(completion({"role": "assistant", "content": "ok " * 1000})).encode()))
    with create_backend(settings_for(model_server)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == ("ok " * 1000).strip()


def echo_authorization(status: int):
    def reply(request) -> Reply:
        echoed = f"bad request; headers were {dict(request.headers)}; Authorization: {request.headers['authorization']}"
        return Reply.error(status, echoed) if status != 502 else Reply(status=502, body=echoed.encode())

    return reply


@pytest.mark.parametrize("statuses", [(503, 400), (502, 502)], ids=["server error then client error", "bad gateway"])
def test_an_error_body_echoing_the_key_does_not_carry_it_out(model_server: ModelServer, caplog, statuses) -> None:
    model_server.push(*(echo_authorization(status) for status in statuses))
    settings = settings_for(model_server, api_key=SecretStr(API_KEY))
    with (
        caplog.at_level(logging.DEBUG),
        create_backend(settings) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert model_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert "[API key]" in str(caught.value) + caplog.text  # the echo is shown, masked
    assert API_KEY not in str(caught.value) and API_KEY not in caplog.text


@pytest.mark.parametrize("padding", [290, 295, 299])
def test_no_part_of_the_key_survives_where_the_excerpt_is_cut(model_server: ModelServer, padding: int) -> None:
    body = ("x" * padding + API_KEY + " trailing").encode()
    model_server.push(Reply(status=502, body=body), Reply.error(401, "y" * padding + API_KEY))
    with (
        create_backend(settings_for(model_server, api_key=SecretStr(API_KEY))) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert API_KEY[:8] not in str(caught.value)
