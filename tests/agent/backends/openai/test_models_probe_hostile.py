"""The ``GET /models`` probe against a hostile server (issue 22, item 4): capped, on time, bounded JSON.

The probe had no size cap (an endless reply: 9.2 GB in 60 s), no deadline (a 60 s drip beat
``--request-timeout 3``), and a deeply nested or 5,000-digit reply was a traceback. It now reads
through the same deadline watchdog, size cap and bounded JSON as the chat reply (``replies.py``): a
listing that breaks a limit means "nothing known about the server", said in a warning, and the run
goes on to its chat requests, which have limits of their own.
"""

from __future__ import annotations

import logging
import tracemalloc

import pytest

from qwen_gui_agent.agent.backends import BackendSettings, create_backend
from qwen_gui_agent.agent.backends.openai.server_info import MAX_LISTING_BYTES
from qwen_gui_agent.tools.messages import Message
from tests.support.model_server import ModelServer, Reply

ANSWER = "Action: wait()"


def settings_for(server: ModelServer, timeout_s: float = 10.0) -> BackendSettings:
    # No --context-limit: the backend asks GET /models for the server's context length before its first request.
    return BackendSettings(
        kind="openai", base_url=server.base_url, model="scripted-model", max_retries=0, timeout_s=timeout_s
    )


def ask(server: ModelServer, settings: BackendSettings) -> str:
    server.push(Reply.answer(ANSWER))
    with create_backend(settings) as backend:
        return backend.complete([Message.text("user", "hi")]).text


def probe_warning(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(r.getMessage() for r in caplog.records if "/models" in r.getMessage())


def test_an_endless_listing_is_cut_at_the_cap(model_server: ModelServer, caplog: pytest.LogCaptureFixture) -> None:
    flood = 512 * 1024 * 1024  # the server stops here; read whole, it would take the run's memory with it
    model_server.push_models(Reply.flood(flood))
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING):
            assert ask(model_server, settings_for(model_server)) == ANSWER
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [delivery] = model_server.deliveries(1)
    assert delivery.sent < 64 * 1024 * 1024, f"{delivery.sent:,} bytes read"  # hung up near the cap
    assert peak < 4 * MAX_LISTING_BYTES, f"peak {peak:,} bytes"
    assert f"larger than {MAX_LISTING_BYTES:,} bytes" in probe_warning(caplog)


def test_a_dripping_listing_is_cut_at_the_request_timeout(
    model_server: ModelServer, caplog: pytest.LogCaptureFixture
) -> None:
    # 60 bytes a half second apart: 30 s read whole, each byte well inside the read timeout.
    model_server.push_models(Reply.trickled(Reply.json({"object": "list", "data": [{"id": "m" * 30}]}), every_s=0.5))
    with caplog.at_level(logging.WARNING):
        assert ask(model_server, settings_for(model_server, timeout_s=2.0)) == ANSWER
    [delivery] = model_server.deliveries(1)
    assert delivery.sent < delivery.size  # the client hung up mid-body
    assert "no reply within 2 s" in probe_warning(caplog)


@pytest.mark.parametrize(
    "body, words",
    [
        (b"[" * 200_000 + b"]" * 200_000, "nested more than"),
        (
            b'{"object": "list", "data": [{"id": "scripted-model", "max_model_len": ' + b"9" * 5000 + b"}]}",
            "an integer of 5,000 digits",
        ),
        (b'{"object": "list", "data": [' * 40 + b"]}" * 40, "nested more than"),
    ],
    ids=["200,000 deep", "a 5,000-digit number", "40 deep"],
)
def test_a_listing_past_the_json_limits_is_nothing_known(
    model_server: ModelServer, caplog: pytest.LogCaptureFixture, body: bytes, words: str
) -> None:
    model_server.push_models(Reply.malformed(body))
    with caplog.at_level(logging.WARNING):
        assert ask(model_server, settings_for(model_server)) == ANSWER
    assert words in probe_warning(caplog)


def test_an_ordinary_listing_is_still_read(model_server: ModelServer) -> None:
    model_server.listing.update(owned_by="vllm", max_model_len=32768)
    model_server.push(Reply.answer(ANSWER))
    with create_backend(settings_for(model_server)) as backend:
        completion = backend.complete([Message.text("user", "hi")])
        assert backend.checks.server_info().engine == "vllm"
    assert completion.serving["context_limit"] == 32768
