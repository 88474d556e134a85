"""Hotkey names: one canonical spelling per key, clear errors for unknown keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qwen_gui_agent.tools.actions import Hotkey
from qwen_gui_agent.tools.canonical import parse_action
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.keys import NAMED_KEYS, normalize_key, normalize_keys
from tests.tools.tools_strategies import key_names


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("Control", "ctrl"),
        ("CTRL", "ctrl"),
        ("ctrl_left", "ctrl"),
        ("Return", "enter"),
        ("Escape", "esc"),
        ("ArrowLeft", "left"),
        ("PgDn", "pagedown"),
        ("Page_Up", "pageup"),
        ("command", "cmd"),
        ("Win", "cmd"),
        ("Option", "alt"),
        ("F12", "f12"),
        ("KeyA", "a"),
        ("Digit7", "7"),
        ("A", "a"),
        ("space", "space"),
        ("Del", "delete"),
        ("plus", "+"),
        ("spacebar", "space"),
    ],
)
def test_aliases(alias, canonical):
    assert normalize_key(alias) == canonical


@pytest.mark.parametrize(
    ("chord", "keys"),
    [
        ("ctrl c", ("ctrl", "c")),
        ("ctrl+c", ("ctrl", "c")),
        ("Ctrl-Shift-T", ("ctrl", "shift", "t")),
        ("ctrl +", ("ctrl", "+")),
        ("ctrl -", ("ctrl", "-")),
        ("-", ("-",)),
        ("alt  F4", ("alt", "f4")),
        (["Control", "Alt", "Delete"], ("ctrl", "alt", "delete")),
        (["ctrl+shift", "esc"], ("ctrl", "shift", "esc")),
    ],
)
def test_chords(chord, keys):
    assert normalize_keys(chord) == keys
    assert Hotkey(keys=chord).keys == keys


@given(st.lists(key_names, min_size=1, max_size=4))
def test_normalization_is_idempotent(names):
    once = normalize_keys(names)
    assert normalize_keys(list(once)) == once
    assert normalize_keys(" ".join(once)) == once  # the canonical text form joins keys with spaces


def test_every_named_key_is_its_own_canonical_name():
    assert all(normalize_key(name) == name for name in NAMED_KEYS)


@pytest.mark.parametrize("bad", ["hyper", "ctrl+banana", "F25", ""])
def test_unknown_keys_raise_with_the_known_names(bad):
    with pytest.raises(ActionParseError) as caught:
        normalize_keys(bad)
    message = caught.value.feedback()
    assert "key" in message
    if bad:
        assert "ctrl" in message and "hotkey(key='ctrl c')" in message


def test_unknown_key_in_an_answer_is_a_parse_error():
    with pytest.raises(ActionParseError, match="banana"):
        parse_action("hotkey(key='ctrl banana')")
