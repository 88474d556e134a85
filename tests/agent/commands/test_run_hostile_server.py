"""`agent run` against a server whose replies are well-formed JSON of the wrong shape (issue 16, item 4).

The audit saw each of these end the run as an "internal error" with a
traceback. Now each is a typed backend error: retried, then the run ends as
`error` with the message `model backend: ...` in run.json, exit 1, no traceback.
The shapes themselves are checked one by one against the backend in
tests/agent/backends/test_openai_hostile_server.py; this is the whole command.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.adb_server import AdbServer
from tests.support.cli import run_on_fake_phone
from tests.support.model_server import ModelServer, Reply

pytestmark = pytest.mark.slow


def completion(message: dict, **extra) -> Reply:
    return Reply.json({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message}], **extra})


SHAPES = {
    "tool_calls as strings": completion({"role": "assistant", "content": "", "tool_calls": ["a", "b"]}),
    "usage as a list": completion({"role": "assistant", "content": "Action: wait()"}, usage=[1, 2]),
    "content parts with a number as text": completion({"role": "assistant", "content": [{"type": "text", "text": 5}]}),
    "200,000-deep list": Reply.malformed(b"[" * 200_000),
    "5,000-digit integer": Reply.malformed(
        b'{"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": ' + b"7" * 5000 + b"}}"
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_a_reply_of_the_wrong_shape_ends_the_run_as_a_backend_error(tmp_path: Path, shape: str) -> None:
    with AdbServer() as adb, ModelServer() as model_server:
        model_server.push(SHAPES[shape], SHAPES[shape])
        result = run_on_fake_phone(
            "open the settings",
            "--max-retries",
            "1",
            adb_port=adb.port,
            base_url=model_server.base_url,
            out=tmp_path / "runs",
            dialect="qwen",
        )
        served = len(model_server.requests)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert served == 2  # the first reply was retried
    info = load_run(next((tmp_path / "runs").iterdir())).info
    assert info.status == "error" and info.message.startswith("model backend: "), info.message
    assert "2 attempt(s)" in info.message and "internal error" not in info.message


@pytest.mark.parametrize("listing", ["endless", "a drip past --request-timeout", "5,000 digits"])
def test_a_hostile_models_listing_costs_the_run_nothing(tmp_path: Path, listing: str) -> None:
    # Issue 22, item 4: GET /models read an endless reply whole, waited out a drip, and tracebacked on big numbers.
    replies = {
        "endless": Reply.flood(1 << 30),
        "a drip past --request-timeout": Reply.trickled(Reply.json({"data": [{"id": "x" * 40}]}), every_s=0.5),
        "5,000 digits": Reply.malformed(b'{"data": [{"id": "scripted-model", "max_model_len": ' + b"9" * 5000 + b"}]}"),
    }
    with AdbServer() as adb, ModelServer() as model_server:
        model_server.push_models(replies[listing])
        model_server.push("Thought: done\nAction: finished(content='done')")
        result = run_on_fake_phone(
            "open the settings",
            "--request-timeout",
            "3",
            adb_port=adb.port,
            base_url=model_server.base_url,
            out=tmp_path / "runs",
            dialect="uitars",
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "GET /models:" in output  # said once, as a warning
    assert load_run(next((tmp_path / "runs").iterdir())).info.status == "success"
