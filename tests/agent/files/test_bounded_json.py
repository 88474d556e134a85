"""JSON within limits: each way ``json`` trips over hostile input is one clear JsonLimitError."""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.files.bounded_json import JsonLimitError, JsonLimits, depth_over, loads_bounded


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 200_000 + "]" * 200_000, "nested more than 64 levels deep"),  # RecursionError in json
        ("[" * 65 + "]" * 65, "nested more than 64 levels deep"),  # within json's recursion, past ours
        ('{"a": ' + "7" * 5000 + "}", "an integer of 5,000 digits"),  # ValueError in json
        ('{"x": 1e400}', "too large for a float"),  # inf in json
        ("[" + "1" * 400 + ".5]", "written with 402 characters"),
        ('{"box": [0, 0, Infinity, 9]}', "Infinity is not a number"),
        ("[NaN]", "NaN is not a number"),
        ('{"a": 1,}', "not valid JSON"),
        (b'{"a": "\xff\xfe"}', "not valid JSON"),
    ],
)
def test_hostile_json_is_one_clear_error(text, words):
    with pytest.raises(JsonLimitError, match=words):
        loads_bounded(text)


def test_ordinary_json_reads_as_json_does():
    text = '{"index": 3, "started_at": 1796557384.2491498, "actions": ["click(start_box=\'(1,2)\')"], "v": null}'
    assert loads_bounded(text) == {
        "index": 3,
        "started_at": 1796557384.2491498,
        "actions": ["click(start_box='(1,2)')"],
        "v": None,
    }
    assert loads_bounded("[" * 64 + "]" * 64) is not None
    assert loads_bounded("-" + "9" * 40) == -int("9" * 40)


def test_limits_are_settings():
    assert loads_bounded("[NaN]", JsonLimits(allow_non_finite=True))[0] != 0
    with pytest.raises(JsonLimitError, match="more than 3 levels"):
        loads_bounded("[[[[1]]]]", JsonLimits(max_depth=3))


def test_depth_is_measured_without_recursion():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert depth_over(deep, 64) and not depth_over([[1], {"a": [2]}], 3)
