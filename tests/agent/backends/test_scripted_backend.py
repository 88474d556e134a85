"""The scripted backend: answers from a list, an answers file, or a recorded run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends import BackendSettings, BackendUnavailable, ScriptExhausted, create_backend
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.records.run_files import RunInfo, RunWriter, StepRecord
from qwen_gui_agent.tools.messages import Message

ASK = [Message.text("user", "next?")]


def test_plays_answers_in_order_then_says_how_many_it_had() -> None:
    backend = ScriptedBackend(["first", "second"])
    assert backend.complete(ASK).text == "first"
    assert backend.remaining == 1
    assert backend.complete(ASK).text == "second"
    with pytest.raises(ScriptExhausted) as caught:
        backend.complete(ASK)
    assert "holds 2 answers" in str(caught.value)
    assert "answer 3" in str(caught.value)
    assert len(backend.requests) == 3
    assert backend.requests[0] == tuple(ASK)


def write_run(directory: Path, answers: list[str]) -> Path:
    writer = RunWriter(directory, RunInfo(run_id="r1", task="t", dialect="uitars", started_at=time.time()))
    for index, answer in enumerate(answers, start=1):
        writer.append(StepRecord(index=index, started_at=time.time(), answer=answer))
    writer.close()
    return directory


def test_replays_the_answers_of_a_recorded_run(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", ["Action: click(start_box='(1,2)')", "", "Action: finished(content='ok')"])
    backend = create_backend(BackendSettings(kind="scripted", script=run))
    assert backend.complete(ASK).text == "Action: click(start_box='(1,2)')"
    assert backend.complete(ASK).text == "Action: finished(content='ok')"  # steps without an answer skipped
    with pytest.raises(ScriptExhausted, match="holds 2 answers"):
        backend.complete(ASK)


def test_a_directory_that_is_not_a_run_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="not a recorded run"):
        ScriptedBackend.from_path(tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("answers.json", json.dumps(["one\ntwo", "three"])),
        ("answers.yaml", "- |-\n  one\n  two\n- three\n"),
        ("answers.txt", "one\ntwo\n---\nthree\n---\n"),
    ],
)
def test_answers_files(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    backend = create_backend(BackendSettings(kind="scripted", script=path))
    assert [backend.complete(ASK).text, backend.complete(ASK).text] == ["one\ntwo", "three"]
    assert backend.remaining == 0


def test_bad_answers_files_are_unavailable(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"not": "a list"}')
    with pytest.raises(BackendUnavailable, match="list of answer strings"):
        ScriptedBackend.from_path(tmp_path / "bad.json")
    with pytest.raises(BackendUnavailable, match="cannot read"):
        ScriptedBackend.from_path(tmp_path / "missing.txt")


def test_answers_given_in_settings() -> None:
    backend = create_backend(BackendSettings(kind="scripted", script=("a", "b")))
    assert backend.complete(ASK).text == "a"


def test_scripted_without_a_script_is_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="needs a script"):
        create_backend(BackendSettings(kind="scripted"))
