"""Hypothesis strategies for actions (shared by the tools tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from qwen_gui_agent.tools.actions import (
    CallUser,
    Click,
    DoubleClick,
    Drag,
    Finished,
    Hotkey,
    LongPress,
    MiddleClick,
    Move,
    OpenApp,
    Point,
    PressBack,
    PressEnter,
    PressHome,
    RightClick,
    Scroll,
    Swipe,
    Type,
    Wait,
)
from qwen_gui_agent.tools.keys import NAMED_KEYS

# Coordinates beyond 1e7 are refused as garbage by the parser (qwen_gui_agent.tools.canonical._finite).
COORDINATE_LIMIT = 10_000_000

unicode_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    [
        "",
        "it's",
        'say "hi"',
        "back\\slash",
        "two\nlines",
        "tab\there",
        "中文输入",
        "emoji 😀👍🏽",
        "\n",
        "\\n",
        "')",
        "\r\n",
    ]
)


def points(max_x: int = COORDINATE_LIMIT, max_y: int = COORDINATE_LIMIT, min_value: int | None = None):
    low_x = -max_x if min_value is None else min_value
    low_y = -max_y if min_value is None else min_value
    return st.builds(Point, x=st.integers(low_x, max_x), y=st.integers(low_y, max_y))


def durations():
    return st.floats(min_value=0.01, max_value=60, allow_nan=False) | st.sampled_from([0.5, 1.0, 2.0, 60.0])


single_keys = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Cf", "Co", "Cn"))
key_names = st.sampled_from(sorted(NAMED_KEYS)) | single_keys


def actions(point_strategy=None):
    """Every action kind, with arbitrary field values."""
    p = point_strategy if point_strategy is not None else points()
    return st.one_of(
        st.builds(Click, point=p),
        st.builds(DoubleClick, point=p),
        st.builds(RightClick, point=p),
        st.builds(MiddleClick, point=p),
        st.builds(Move, point=p),
        st.builds(LongPress, point=p, duration=durations()),
        st.builds(Drag, start=st.none() | p, end=p, duration=durations()),
        st.builds(Swipe, start=p, end=p, duration=durations()),
        st.builds(
            Scroll,
            point=st.none() | p,
            direction=st.sampled_from(["up", "down", "left", "right"]),
            amount=st.integers(1, 100),
        ),
        st.builds(Type, text=unicode_text, submit=st.booleans()),
        st.builds(Hotkey, keys=st.lists(key_names, min_size=1, max_size=4).map(tuple)),
        st.builds(OpenApp, name=unicode_text.filter(lambda t: t != "")),
        st.builds(PressBack),
        st.builds(PressHome),
        st.builds(PressEnter),
        st.builds(Wait, seconds=st.floats(min_value=0, max_value=600, allow_nan=False)),
        st.builds(Finished, status=st.sampled_from(["success", "failure"]), message=unicode_text),
        st.builds(CallUser, question=unicode_text),
    )
