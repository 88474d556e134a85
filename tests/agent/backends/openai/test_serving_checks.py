"""What the openai backend adds to a request and reads from a reply, against the loopback test server.

The server (tests/support/model_server.py) counts prompt tokens itself, resizing images by its own
``max_pixels`` as Qwen2.5-VL's processor does, and lists its model at ``/v1/models`` like vLLM or
SGLang when told to. Checked here: ``--grammar`` travels in the configured structured-output form
(or the one ``/models`` names), a server that refuses or ignores it is named as such, a server whose
token count shows it resized the screenshot is caught, and a vLLM-worded overflow is typed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from PIL import Image

from qwen_gui_agent.agent.backends import BackendRequestError, BackendSettings, create_backend
from qwen_gui_agent.agent.backends.context_limits import ContextOverflow
from qwen_gui_agent.agent.backends.openai.resize_check import ServerResizedImage
from qwen_gui_agent.agent.backends.openai.structured_output import StructuredOutputError
from qwen_gui_agent.tools.messages import Message
from tests.support.e2e import agent_env, only_run_dir, run_agent, xvfb_or_skip
from tests.support.model_server import ModelServer, Reply, TokenCounter
from tests.support.xvfb import XvfbServer

FRAME = (1316, 728)  # what the agent sends: 47 x 26 = 1,222 image tokens unresized
CALL = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}
ANSWER = f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>"
# Each form's field, and how to read the constraint out of it.
FIELDS = {
    "vllm": lambda body: body["structured_outputs"]["grammar"],
    "vllm-guided": lambda body: body["guided_grammar"],
    "sglang": lambda body: body["ebnf"],
    "sglang-regex": lambda body: body["regex"],
    "openai-json-schema": lambda body: json.dumps(body["response_format"]),
}
KEYS = {
    "vllm": "structured_outputs",
    "vllm-guided": "guided_grammar",
    "sglang": "ebnf",
    "sglang-regex": "regex",
    "openai-json-schema": "response_format",
}
FIELD_KEYS = set(KEYS.values())


@pytest.fixture
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(*FRAME)


def backend_for(server: ModelServer, **changes):
    values = {
        "kind": "openai",
        "base_url": server.base_url,
        "model": server.model,
        "max_retries": 0,
        "timeout_s": 10.0,
        "grammar": "qwen",
        "structured_output": "vllm",
    }
    return create_backend(BackendSettings(**{**values, **changes}))


def prompt(size: tuple[int, int] = FRAME) -> list[Message]:
    return [
        Message.text("system", "You operate a computer."),
        Message("user", ("Task: open mail", Image.new("RGB", size, "white"))),
    ]


@pytest.mark.parametrize("form", list(FIELDS))
def test_the_constraint_travels_in_the_configured_form(form: str) -> None:
    answer = json.dumps(CALL) if form == "openai-json-schema" else ANSWER
    with ModelServer([answer]) as server, backend_for(server, structured_output=form) as backend:
        completion = backend.complete(prompt(), wants_action=True)
    (request,) = server.requests
    assert FIELD_KEYS & set(request.body) == {KEYS[form]}  # that form's field and no other
    assert "left_click" in FIELDS[form](request.body)
    assert completion.text == ANSWER  # the JSON-schema answer is put back into the dialect's own text
    assert completion.serving["structured_output"] == form


def test_the_frame_bounds_the_coordinates_in_the_grammar() -> None:
    with ModelServer([ANSWER, ANSWER]) as server, backend_for(server, structured_output="sglang-regex") as backend:
        backend.complete(prompt(), wants_action=True)
        backend.complete(prompt((672, 448)), wants_action=True)
    wide, small = (request.body["regex"] for request in server.requests)
    assert wide != small  # the coordinate ranges follow the screenshot's frame


@pytest.mark.parametrize("engine, field", [("vllm", "structured_outputs"), ("sglang", "ebnf")])
def test_auto_takes_the_form_the_models_listing_names(engine: str, field: str) -> None:
    listing = {"owned_by": engine, "max_model_len": 32768}
    with ModelServer([ANSWER], listing=listing) as server, backend_for(server, structured_output="auto") as backend:
        completion = backend.complete(prompt(), wants_action=True)
    (request,) = server.requests
    assert FIELD_KEYS & set(request.body) == {field}
    assert completion.serving["structured_output"] == engine
    assert completion.serving["context_limit"] == 32768


def test_auto_on_a_server_that_names_no_engine_fails_before_sending() -> None:
    with ModelServer([ANSWER]) as server, backend_for(server, structured_output="auto") as backend:
        with pytest.raises(StructuredOutputError) as caught:
            backend.complete(prompt(), wants_action=True)
    assert server.requests == []
    assert "cannot tell which structured-output form" in str(caught.value)
    assert "--structured-output vllm" in caught.value.hint


def test_no_constraint_when_no_action_is_wanted_or_the_form_is_off() -> None:
    with ModelServer([ANSWER, ANSWER]) as server:
        with backend_for(server) as backend:
            backend.complete(prompt(), wants_action=False)
        with backend_for(server, structured_output="off") as backend:
            backend.complete(prompt(), wants_action=True)
    assert [FIELD_KEYS & set(request.body) for request in server.requests] == [set(), set()]


def test_a_server_that_refuses_the_constraint_gets_a_clear_message() -> None:
    refusal = Reply.error(400, "1 validation error: structured_outputs: Extra inputs are not permitted")
    with (
        ModelServer([refusal, ANSWER]) as server,
        backend_for(server, structured_output="vllm", max_retries=2) as backend,
    ):
        with pytest.raises(StructuredOutputError) as caught:
            backend.complete(prompt(), wants_action=True)
    message = str(caught.value)
    assert "HTTP 400" in message and "refused the structured-output constraint" in message
    assert "--structured-output vllm" in message and "Extra inputs are not permitted" in message
    assert "--structured-output off" in caught.value.hint
    assert len(server.requests) == 1 and server.pending == 1  # a refusal is not retried


def test_an_unrelated_client_error_is_not_blamed_on_the_constraint() -> None:
    with ModelServer([Reply.error(404, "The model `x` does not exist.")]) as server, backend_for(server) as backend:
        with pytest.raises(BackendRequestError) as caught:
            backend.complete(prompt(), wants_action=True)
    assert not isinstance(caught.value, StructuredOutputError)
    assert "structured-output" not in str(caught.value)


def test_a_server_that_ignores_the_constraint_is_reported(caplog) -> None:
    with ModelServer(["I would click the mail icon."]) as server, backend_for(server) as backend:
        with caplog.at_level(logging.WARNING):
            completion = backend.complete(prompt(), wants_action=True)
    assert completion.serving["structured_output"] == "ignored (vllm)"
    assert "ignored the structured-output constraint (--structured-output vllm)" in caplog.text


def test_a_server_that_keeps_the_frame_is_checked_once_per_size() -> None:
    with ModelServer([ANSWER, ANSWER]) as server, backend_for(server, grammar=None) as backend:
        first = backend.complete(prompt())
        second = backend.complete(prompt())
    assert len(server.calibrations) == 1  # one 56x56 twin for the one size
    assert first.serving["server_image_tokens"] == first.serving["image_tokens"] == 47 * 26
    assert (first.serving["frame_check"], first.serving["server_frame"]) == ("kept", list(FRAME))
    assert second.serving["frame_check"] == "kept" and "server_image_tokens" not in second.serving
    assert first.seen_frame == FRAME


def test_a_server_that_resized_the_screenshot_is_caught_and_its_frame_used() -> None:
    counter = TokenCounter(max_pixels=800 * 28 * 28)  # the server shrinks 1316x728 to 1064x588
    with ModelServer([ANSWER], counter=counter) as server, backend_for(server, grammar=None) as backend:
        completion = backend.complete(prompt())
    assert counter.served_size(*FRAME) == (1064, 588)
    assert completion.serving["server_image_tokens"] == 38 * 21 != completion.serving["image_tokens"]
    assert (completion.serving["frame_check"], completion.serving["server_frame"]) == ("resized", [1064, 588])
    assert completion.seen_frame == (1064, 588)  # the answer's points are read in what the model saw


def test_a_resize_that_cannot_be_inferred_stops_with_the_bound_to_change() -> None:
    # Two images of different sizes, both shrunk: their summed count names no single resize.
    counter = TokenCounter(max_pixels=300 * 28 * 28)
    messages = [Message("user", ("earlier", Image.new("RGB", (672, 448)))), *prompt()]
    with ModelServer([ANSWER], counter=counter) as server, backend_for(server, grammar=None) as backend:
        with pytest.raises(ServerResizedImage) as caught:
            backend.complete(messages)
    assert "resized the screenshot" in str(caught.value)
    assert "max_pixels" in caught.value.hint


def test_a_vllm_overflow_refusal_is_typed_with_the_limit_and_the_need() -> None:
    refusal = Reply.error(
        400,
        "This model's maximum context length is 8192 tokens. However, you requested "
        "9212 tokens (8700 in the messages, 512 in the completion).",
    )
    with ModelServer([refusal]) as server, backend_for(server, grammar=None, max_new_tokens=512) as backend:
        with pytest.raises(ContextOverflow) as caught:
            backend.complete(prompt())
    assert (caught.value.limit, caught.value.needed, caught.value.excess) == (8192, 9212, 1020)
    assert "does not fit its context of 8192 tokens" in str(caught.value)
    assert "model name" not in str(caught.value) and ".." not in str(caught.value)


@pytest.mark.xvfb
@pytest.mark.slow
def test_a_run_trims_its_history_when_the_server_refuses_an_overflow(display: XvfbServer, tmp_path) -> None:
    """`agent run` on Xvfb: the second step's prompt (two screenshots) is refused as vLLM words it; the
    run drops the older screenshot, asks again, and records what it dropped and why."""
    refusal = Reply.error(
        400,
        "This model's maximum context length is 4000 tokens. However, you requested "
        "4600 tokens (4088 in the messages, 512 in the completion).",
    )
    finished = "Thought: done\nAction: finished(content='ok')"
    out = tmp_path / "runs"
    with ModelServer(["Thought: look\nAction: wait()", refusal, finished]) as server:
        done = run_agent(
            [
                "look around",
                "--device",
                "desktop",
                "--base-url",
                server.base_url,
                "--model",
                server.model,
                "--dialect",
                "uitars",
                "--history-images",
                "2",
                "--max-new-tokens",
                "512",
                "--max-steps",
                "3",
                "--out",
                str(out),
                "--json",
            ],
            agent_env(display.env()),
        )
    requests = server.requests
    assert done.returncode == 0, done.stdout + done.stderr
    assert [len(request.images()) for request in requests] == [1, 2, 1]  # refused with two, answered with one
    steps = [json.loads(line) for line in (only_run_dir(out) / "steps.jsonl").read_text().splitlines()]
    trim = steps[1]["serving"]["context_trim"]
    assert (trim["limit"], trim["needed"], trim["history_images_dropped"]) == (4000, 4600, 1)
    assert trim["source"] == "the server's HTTP 400"
    assert "trimmed the prompt to fit the 4000-token context (the server's HTTP 400)" in steps[1]["note"]
