"""What a real vLLM showed about ``--grammar`` over HTTP (issue 26), against the loopback test server.

The server (tests/support/model_server.py) counts prompt tokens itself, resizing images by its own
``max_pixels``, answers the agent's frame-check requests from that count, and lists itself as vLLM
when told to. Checked here: the first constrained request on a resizing server is bounded by the
server's frame; the JSON-schema form is refused on vLLM; a cap too small for a constrained answer
is refused before anything is sent; an answer is judged by the grammar's language as the server's
detokenizer leaves it (tool-call tags it dropped, an answer cut at the cap).
"""

from __future__ import annotations

import json
import logging

import pytest
from PIL import Image

from qwen_gui_agent.agent.backends import BackendSettings, create_backend
from qwen_gui_agent.agent.backends.grammar.rules import int_up_to
from qwen_gui_agent.agent.backends.openai.structured_output import StructuredOutputError
from qwen_gui_agent.tools.dialects.qwen import QwenDialect
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message
from tests.support.model_server import ModelServer, Reply, TokenCounter

FRAME = (1316, 728)  # what the agent sends
SERVED = (1064, 588)  # what a server with max_pixels 800*28*28 makes of it
CALL = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1064, 588]}}
ANSWER = f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>"


def backend_for(server: ModelServer, **changes):
    values = {
        "kind": "openai",
        "base_url": server.base_url,
        "model": server.model,
        "max_retries": 0,
        "timeout_s": 10.0,
        "grammar": "qwen",
        "structured_output": "vllm",
        "max_new_tokens": 512,
    }
    return create_backend(BackendSettings(**{**values, **changes}))


def prompt(size: tuple[int, int] = FRAME) -> list[Message]:
    return [
        Message.text("system", "You operate a computer."),
        Message("user", ("Task: open mail", Image.new("RGB", size, "white"))),
    ]


def grammar_rule(body: dict, name: str) -> str:
    lines = body["structured_outputs"]["grammar"].splitlines()
    return next(line for line in lines if line.startswith(f"{name} ::= "))


def test_the_first_constrained_request_on_a_resizing_server_is_bounded_by_the_servers_frame() -> None:
    counter = TokenCounter(max_pixels=800 * 28 * 28)
    with ModelServer([ANSWER], counter=counter) as server, backend_for(server) as backend:
        completion = backend.complete(prompt(), wants_action=True)
    assert counter.served_size(*FRAME) == SERVED
    (request,) = server.requests
    # Step 1's points are bounded by what the model sees, not by what was sent.
    assert grammar_rule(request.body, "x") == f"x ::= {int_up_to(SERVED[0])}"
    assert grammar_rule(request.body, "y") == f"y ::= {int_up_to(SERVED[1])}"
    assert len(server.calibrations) == 2  # the one-token probe of the request and its 56x56 twin, sent first
    serving = completion.serving
    assert serving["grammar_frame"] == serving["server_frame"] == list(SERVED)
    assert serving["frame_check"] == "resized" and serving["server_image_tokens"] == 38 * 21
    assert serving["structured_output"] == "vllm"
    assert completion.seen_frame == SERVED
    QwenDialect().parse(completion.text, ModelFrame(*completion.seen_frame))  # the point lies in that frame


def test_a_server_that_keeps_the_frame_is_measured_once_per_size() -> None:
    with ModelServer([ANSWER, ANSWER]) as server, backend_for(server) as backend:
        first = backend.complete(prompt(), wants_action=True)
        second = backend.complete(prompt(), wants_action=True)
    assert len(server.calibrations) == 2  # probe and twin for the one size, none for the second step
    assert first.serving["server_image_tokens"] == 47 * 26 and "server_image_tokens" not in second.serving
    assert first.serving["grammar_frame"] == second.serving["grammar_frame"] == list(FRAME)
    assert [grammar_rule(request.body, "x") for request in server.requests] == [f"x ::= {int_up_to(FRAME[0])}"] * 2


def test_openai_json_schema_is_refused_on_vllm_with_the_form_that_works() -> None:
    with (
        ModelServer([ANSWER], listing={"owned_by": "vllm"}) as server,
        backend_for(server, structured_output="openai-json-schema") as backend,
        pytest.raises(StructuredOutputError) as refused,
    ):
        backend.complete(prompt(), wants_action=True)
    assert server.requests == [] and server.calibrations == []  # refused before anything was sent
    assert "vLLM" in str(refused.value) and "whitespace" in str(refused.value)
    assert "--structured-output vllm" in refused.value.hint


def test_a_cap_too_small_for_a_constrained_answer_is_refused_before_sending() -> None:
    with (
        ModelServer([ANSWER]) as server,
        backend_for(server, max_new_tokens=64) as backend,
        pytest.raises(StructuredOutputError) as small,
    ):
        backend.complete(prompt(), wants_action=True)
    assert server.requests == [] and server.calibrations == []
    assert "max_tokens of 64" in str(small.value)
    needed = int(small.value.hint.split("--max-new-tokens to ")[1].split()[0])
    with ModelServer([ANSWER]) as server, backend_for(server, max_new_tokens=needed) as backend:
        assert backend.complete(prompt(), wants_action=True).serving["structured_output"] == "vllm"


@pytest.mark.parametrize(
    "sent",
    [
        "\n" + json.dumps(CALL) + "\n",  # both tags dropped: a tokenizer that marks them special
        "<tool_call>\n" + json.dumps(CALL) + "\n",  # only the closing tag dropped
    ],
    ids=["both-tags", "closing-tag"],
)
def test_an_answer_whose_tool_call_tags_the_server_dropped_is_followed_not_ignored(sent: str, caplog) -> None:
    with ModelServer([sent]) as server, backend_for(server) as backend, caplog.at_level(logging.WARNING):
        completion = backend.complete(prompt(), wants_action=True)
    assert completion.serving["structured_output"] == "vllm"
    assert "ignored" not in caplog.text
    QwenDialect().parse(completion.text, ModelFrame(*FRAME))  # and it does parse


def test_an_answer_cut_at_the_cap_is_recorded_as_cut_and_one_outside_the_grammar_as_ignored(caplog) -> None:
    cut = Reply.answer(
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "Shang', finish_reason="length"
    )
    outside = Reply.answer("Sure! I will click the mail icon for you, it is at", finish_reason="length")
    with (
        ModelServer([cut, outside]) as server,
        backend_for(server, max_new_tokens=512) as backend,
        caplog.at_level(logging.WARNING),
    ):
        first = backend.complete(prompt(), wants_action=True)
        second = backend.complete(prompt(), wants_action=True)
    assert first.serving["structured_output"] == "cut (vllm)"
    assert second.serving["structured_output"] == "ignored (vllm)"
    assert "reached the token cap (512)" in caplog.text and "ignored the structured-output constraint" in caplog.text
