"""Only regular files, never past a cap: a link to /dev/zero, a named pipe or a gigabyte line is refused at once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qwen_gui_agent.agent.files.bounded_json import JsonLimitError
from qwen_gui_agent.agent.files.reading import FileRefused, json_lines, read_regular


def test_a_link_to_a_device_is_refused_before_reading(tmp_path: Path) -> None:
    link = tmp_path / "steps.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(FileRefused, match="not a regular file \\(a character device\\)"):
        read_regular(link, 1024)
    with pytest.raises(FileRefused):
        list(json_lines(link, max_bytes=1024))


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    pipe = tmp_path / "run.json"
    os.mkfifo(pipe)
    with pytest.raises(FileRefused, match="a named pipe"):
        read_regular(pipe, 1024)


def test_a_file_past_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(FileRefused, match="larger than 1,000 bytes"):
        read_regular(path, 1000)
    assert read_regular(path, 2000) == b"x" * 2000


def test_json_lines_yields_each_bad_line_as_its_error_and_marks_the_last(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_bytes(b'{"a": 1}\n\n' + b"[" * 5000 + b"\n" + b'{"b": ' + b"x" * 300 + b"}\n" + b'{"c": 3}\n{"d": ')
    rows = list(json_lines(path, max_bytes=1 << 20, max_line_bytes=100))
    assert [(number, last) for number, _, last in rows] == [(1, False), (3, False), (4, False), (5, False), (6, True)]
    values = [value for _, value, _ in rows]
    assert values[0] == {"a": 1} and values[3] == {"c": 3}
    assert isinstance(values[1], JsonLimitError) and "longer than 100 bytes" in str(values[1])  # not read whole
    assert isinstance(values[2], JsonLimitError) and "longer than 100 bytes" in str(values[2])
    assert isinstance(values[4], JsonLimitError) and "not valid JSON" in str(values[4])
