"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (tests/support/model_server.py)."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pydantic import SecretStr

from qwen_gui_agent.agent.backends import BackendRequestError, BackendSettings, BackendUnavailable, create_backend
from qwen_gui_agent.agent.backends.openai.backend import backoff_seconds, parse_retry_after, read_reply
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, resize_to_frame
from qwen_gui_agent.tools.messages import Message
from tests.support.model_server import ModelServer, Reply

API_KEY = "sk-test-0123456789abcdef"


def settings_for(server: ModelServer, **changes) -> BackendSettings:
    # Tiny backoff so retry tests take milliseconds.
    values = {
        "kind": "openai",
        "base_url": server.base_url,
        "model": "Qwen/Qwen2.5-VL-7B-Instruct",
        "max_retries": 2,
        "retry_initial_s": 0.01,
        "retry_max_wait_s": 0.05,
        "timeout_s": 5.0,
    }
    return BackendSettings(**{**values, **changes})


def frame_sized_screenshot() -> tuple[ModelFrame, Image.Image]:
    raw = Image.new("RGB", (1920, 1080), "white")
    ImageDraw.Draw(raw).ellipse((100, 100, 400, 300), fill="red")
    frame = ModelFrame.for_screen(1920, 1080, FrameBounds(max_pixels=1280 * 28 * 28))
    return frame, resize_to_frame(raw, frame)


def conversation(image: Image.Image) -> list[Message]:
    return [Message.text("system", "You operate a computer."), Message("user", ("Task: open mail", image))]


def test_request_body_and_reply(model_server: ModelServer) -> None:
    frame, image = frame_sized_screenshot()
    model_server.push(Reply.answer("Action: click(start_box='(10,20)')", prompt_tokens=1620, completion_tokens=9))
    # The reply's own token count (not the server's): the frame check, which would compare it, is off here.
    settings = settings_for(model_server, api_key=SecretStr(API_KEY), max_new_tokens=77, check_server_frame=False)
    with create_backend(settings) as backend:
        completion = backend.complete(conversation(image))

    assert completion.text == "Action: click(start_box='(10,20)')"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (1620, 9)
    assert set(completion.timings) == {"encode", "request", "total"}
    (request,) = model_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = request.body
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert body["max_tokens"] == 77
    assert body["temperature"] == 0.0
    assert body["messages"][0] == {"role": "system", "content": "You operate a computer."}
    user = body["messages"][1]
    assert user["role"] == "user"
    assert [part["type"] for part in user["content"]] == ["text", "image_url"]
    assert user["content"][0]["text"] == "Task: open mail"
    assert request.image_urls()[0].startswith("data:image/png;base64,")
    (sent,) = request.images()
    assert sent.format == "PNG"
    assert sent.size == (frame.width, frame.height) == (1316, 728)
    assert sent.convert("RGB").tobytes() == image.tobytes()  # PNG is lossless


def test_max_new_tokens_argument_overrides_the_setting(model_server: ModelServer) -> None:
    model_server.push(Reply.answer("ok"))
    with create_backend(settings_for(model_server, max_new_tokens=500)) as backend:
        backend.complete([Message.text("user", "hi")], max_new_tokens=12)
    assert model_server.requests[0].body["max_tokens"] == 12
    assert "authorization" not in model_server.requests[0].headers  # no key configured, none sent


def test_jpeg_images_with_quality(model_server: ModelServer) -> None:
    frame, image = frame_sized_screenshot()
    model_server.push(Reply.answer("a"), Reply.answer("b"))
    with create_backend(settings_for(model_server, image_format="jpeg", jpeg_quality=95)) as backend:
        backend.complete(conversation(image))
    with create_backend(settings_for(model_server, image_format="jpeg", jpeg_quality=20)) as backend:
        backend.complete(conversation(image))
    fine, coarse = model_server.requests
    assert fine.image_urls()[0].startswith("data:image/jpeg;base64,")
    assert fine.images()[0].format == "JPEG"
    assert fine.images()[0].size == (frame.width, frame.height)
    assert len(coarse.image_urls()[0]) < len(fine.image_urls()[0])


def test_server_error_is_retried(model_server: ModelServer) -> None:
    model_server.push(Reply.error(500, "boom"), Reply.error(503, "busy"), Reply.answer("done"))
    with create_backend(settings_for(model_server)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "done"
    assert len(model_server.requests) == 3


def test_server_errors_past_the_retries_fail_with_status_and_excerpt(model_server: ModelServer) -> None:
    model_server.push(*[Reply.error(502, "upstream exploded")] * 5)
    with (
        create_backend(settings_for(model_server, max_retries=2)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    message = str(caught.value)
    assert "HTTP 502" in message
    assert "upstream exploded" in message
    assert "3 attempt(s)" in message
    assert len(model_server.requests) == 3


def test_rate_limit_honours_retry_after(model_server: ModelServer, caplog) -> None:
    model_server.push(Reply.error(429, "slow down", retry_after="0.3"), Reply.answer("done"))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), create_backend(settings_for(model_server, retry_max_wait_s=5)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "done"
    assert time.monotonic() - started >= 0.3
    assert "retrying in 0.30 s" in caplog.text


def test_retry_after_is_capped(model_server: ModelServer, caplog) -> None:
    model_server.push(Reply.error(429, "come back tomorrow", retry_after="86400"), Reply.answer("done"))
    with caplog.at_level(logging.WARNING), create_backend(settings_for(model_server, retry_max_wait_s=0.05)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "done"
    assert "retrying in 0.05 s" in caplog.text


def test_backoff_grows_exponentially_without_retry_after(model_server: ModelServer, caplog) -> None:
    model_server.push(Reply.error(500), Reply.error(500), Reply.error(500), Reply.answer("done"))
    settings = settings_for(model_server, max_retries=3, retry_initial_s=0.01, retry_max_wait_s=1)
    with caplog.at_level(logging.WARNING), create_backend(settings) as backend:
        backend.complete([Message.text("user", "hi")])
    waits = [line.rsplit("retrying in ", 1)[1] for line in caplog.messages if "retrying in" in line]
    assert waits == ["0.01 s", "0.02 s", "0.04 s"]


def test_slow_reply_times_out_then_retry_succeeds(model_server: ModelServer) -> None:
    model_server.push(Reply.slow(3.0), Reply.answer("in time"))
    with create_backend(settings_for(model_server, timeout_s=0.3)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "in time"
    assert len(model_server.requests) == 2


def test_slow_replies_past_the_retries_fail(model_server: ModelServer) -> None:
    model_server.push(Reply.slow(3.0), Reply.slow(3.0))
    with (
        create_backend(settings_for(model_server, timeout_s=0.2, max_retries=1)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "no reply within 0.2 s" in str(caught.value)


def test_dropped_connection_is_retried(model_server: ModelServer) -> None:
    model_server.push(Reply.dropped(), Reply.answer("second time lucky"))
    with create_backend(settings_for(model_server)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "second time lucky"
    assert len(model_server.requests) == 2


def test_dropped_connections_past_the_retries_fail(model_server: ModelServer) -> None:
    model_server.push(*[Reply.dropped()] * 3)
    with (
        create_backend(settings_for(model_server, max_retries=2)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "connection failed" in str(caught.value)


def _free_port() -> int:
    with socket.socket() as probe:  # a port that was free a moment ago: connection refused
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nobody_listening_fails_at_once_naming_the_url(caplog) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    settings = BackendSettings(kind="openai", base_url=url, max_retries=3, retry_initial_s=5.0, timeout_s=2)
    with (
        caplog.at_level(logging.WARNING),
        create_backend(settings) as backend,
        pytest.raises(BackendUnavailable) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert f"cannot connect to the model server at {url}" in str(caught.value)
    assert "--base-url" in caught.value.hint
    assert not [record for record in caplog.records if "retrying" in record.getMessage()]  # not a passing fault


def test_a_server_that_answered_once_and_went_away_is_retried(caplog) -> None:
    first = Reply.answer("first")  # the connection closed after it: the next request must connect anew
    with ModelServer([replace(first, headers={**first.headers, "Connection": "close"})]) as server:
        backend = create_backend(settings_for(server, max_retries=2))
        assert backend.complete([Message.text("user", "hi")]).text == "first"
    with caplog.at_level(logging.WARNING), backend, pytest.raises(BackendRequestError) as caught:
        backend.complete([Message.text("user", "hi")])  # a restarting server: worth the retries
    assert "connection failed" in str(caught.value) and "3 attempt(s)" in str(caught.value)
    assert len([record for record in caplog.records if "retrying" in record.getMessage()]) == 2


def test_malformed_json_is_retried_then_succeeds(model_server: ModelServer) -> None:
    model_server.push(Reply.malformed(), Reply.answer("fine now"))
    with create_backend(settings_for(model_server)) as backend:
        assert backend.complete([Message.text("user", "hi")]).text == "fine now"
    assert len(model_server.requests) == 2


def test_malformed_json_past_the_retries_fails_with_excerpt(model_server: ModelServer) -> None:
    model_server.push(*[Reply.malformed(b"<html>502 Bad Gateway</html>")] * 2)
    with (
        create_backend(settings_for(model_server, max_retries=1)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "not JSON" in str(caught.value)
    assert "<html>502 Bad Gateway</html>" in str(caught.value)


def test_json_that_is_not_a_chat_completion_is_retried_then_fails(model_server: ModelServer) -> None:
    model_server.push(*[Reply.json({"object": "error", "detail": "queue full"})] * 2)
    with (
        create_backend(settings_for(model_server, max_retries=1)) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "not a chat completion" in str(caught.value)
    assert len(model_server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 413])
def test_client_errors_fail_at_once_with_the_server_message(model_server: ModelServer, status: int) -> None:
    model_server.push(Reply.error(status, "The model `nope` does not exist."), Reply.answer("never"))
    with (
        create_backend(settings_for(model_server, model="nope")) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert f"HTTP {status}" in str(caught.value)
    assert "The model `nope` does not exist." in str(caught.value)
    assert len(model_server.requests) == 1


def test_a_model_name_the_server_does_not_serve_gets_the_names_it_does(model_server: ModelServer) -> None:
    # vLLM's reply to an unknown model name; its GET /v1/models lists what it serves.
    model_server.push(
        Reply.json(
            {
                "object": "error",
                "message": "The model `Qwen/Qwen2.5-VL-7B` does not exist.",
                "type": "NotFoundError",
                "param": None,
                "code": 404,
            },
            status=404,
        )
    )
    with (
        create_backend(settings_for(model_server, model="Qwen/Qwen2.5-VL-7B")) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "HTTP 404" in str(caught.value) and "does not exist" in str(caught.value)
    assert "the server serves: scripted-model" in str(caught.value)
    assert "--model scripted-model" in caught.value.hint
    assert len(model_server.requests) == 1


def test_a_404_for_a_model_the_server_lists_adds_no_list(model_server: ModelServer) -> None:
    model_server.push(Reply.error(404, "no such route"))
    with (
        create_backend(settings_for(model_server, model="scripted-model")) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert "no such route" in str(caught.value) and "serves" not in str(caught.value)


def test_empty_script_answers_410_and_the_client_fails_at_once(model_server: ModelServer) -> None:
    with create_backend(settings_for(model_server)) as backend, pytest.raises(BackendRequestError) as caught:
        backend.complete([Message.text("user", "hi")])
    assert "no scripted reply left" in str(caught.value)


def test_api_key_never_in_logs_repr_records_or_errors(model_server: ModelServer, caplog) -> None:
    settings = settings_for(model_server, api_key=SecretStr(API_KEY), max_retries=1)
    model_server.push(Reply.error(500, "x"), Reply.error(500, "y"))
    with (
        caplog.at_level(logging.DEBUG),
        create_backend(settings) as backend,
        pytest.raises(BackendRequestError) as caught,
    ):
        backend.complete([Message.text("user", "hi")])
    assert model_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"  # it was really sent
    for text in (
        caplog.text,
        repr(settings),
        str(settings),
        str(settings.public_dict()),
        str(caught.value),
        settings.model_dump_json(),
    ):
        assert API_KEY not in text
    assert settings.public_dict()["api_key_set"] is True


def test_callable_replies_see_the_request(model_server: ModelServer) -> None:
    frame, image = frame_sized_screenshot()
    model_server.push(lambda request: f"saw {request.images()[0].size[0]}x{request.images()[0].size[1]}")
    with create_backend(settings_for(model_server)) as backend:
        assert backend.complete(conversation(image)).text == f"saw {frame.width}x{frame.height}"


def test_tool_calls_parsed_by_the_server_are_put_back_as_text() -> None:
    payload = {
        "choices": [
            {
                "message": {
                    "content": None,
                    "tool_calls": [
                        {
                            "type": "function",
                            "function": {
                                "name": "computer_use",
                                "arguments": '{"action": "left_click", "coordinate": [5, 6]}',
                            },
                        }
                    ],
                }
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4},
    }
    text, usage = read_reply(payload)
    assert text == (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
        '"coordinate": [5, 6]}}\n</tool_call>'
    )
    assert (usage.prompt_tokens, usage.completion_tokens) == (10, 4)


def test_reply_without_usage_has_none_tokens() -> None:
    text, usage = read_reply({"choices": [{"message": {"content": [{"type": "text", "text": "hi"}]}}]})
    assert text == "hi"
    assert usage.prompt_tokens is None and usage.completion_tokens is None


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 60
    assert parse_retry_after(format_datetime(datetime(2000, 1, 1, tzinfo=UTC), usegmt=True)) == 0.0


@given(
    attempt=st.integers(1, 40),
    initial=st.floats(0, 10),
    cap=st.floats(0, 60),
    retry_after=st.none() | st.floats(-5, 1e6),
)
def test_backoff_is_capped_and_follows_retry_after(
    attempt: int, initial: float, cap: float, retry_after: float | None
) -> None:
    wait = backoff_seconds(attempt, retry_after, initial=initial, cap=cap)
    assert 0 <= wait <= cap
    if retry_after is not None:
        assert wait == min(max(retry_after, 0), cap)
    else:
        assert wait == min(initial * 2 ** (attempt - 1), cap)
        assert backoff_seconds(attempt + 1, None, initial=initial, cap=cap) >= wait  # never shrinks
