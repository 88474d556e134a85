"""Dialect uitars: prompt sections, image history, and the Thought/Action parser's every form."""

from __future__ import annotations

import pytest
from PIL import Image

from qwen_gui_agent.tools.actions import (
    CallUser,
    Click,
    DoubleClick,
    Drag,
    Finished,
    Hotkey,
    LongPress,
    OpenApp,
    Point,
    PressBack,
    PressHome,
    RightClick,
    Scroll,
    Type,
    Wait,
)
from qwen_gui_agent.tools.canonical import parse_action
from qwen_gui_agent.tools.dialects import UITarsDialect, get_dialect
from qwen_gui_agent.tools.dialects.base import HistoryStep, PromptContext
from qwen_gui_agent.tools.dialects.uitars import ACTION_SPACE
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.models import model_setup

FRAME = ModelFrame(width=1932, height=1092)
RELATIVE = ModelFrame(width=1932, height=1092, relative=True)


def parse(answer: str, frame: ModelFrame = FRAME):
    return get_dialect("uitars").parse(answer, frame)


# ----------------------------------------------------------------------------- prompt


@pytest.mark.parametrize(
    ("device", "present", "absent"),
    [
        (
            "computer",
            [
                "click(",
                "left_double(",
                "right_single(",
                "drag(",
                "hotkey(key='ctrl c')",
                "type(content=",
                "scroll(",
                "wait()",
                "finished(content=",
                "call_user()",
            ],
            ["long_press(", "open_app(", "press_home()", "press_back()"],
        ),
        (
            "mobile",
            [
                "click(",
                "long_press(",
                "open_app(app_name=",
                "press_home()",
                "press_back()",
                "drag(",
                "type(",
                "scroll(",
                "wait()",
                "finished(",
                "call_user()",
            ],
            ["left_double(", "right_single(", "hotkey("],
        ),
    ],
)
def test_prompt_sections_and_action_space(device, present, absent):
    context = PromptContext(task="turn on dark mode", frame=FRAME, device=device, language="Chinese")
    prompt = get_dialect("uitars").instruction_prompt(context)
    order = ["## Output Format", "Thought: ...", "Action: ...", "## Action Space", "## Note", "## User Instruction"]
    assert [prompt.index(section) for section in order] == sorted(prompt.index(section) for section in order)
    assert prompt.rstrip().endswith("## User Instruction\nturn on dark mode")
    assert "Chinese" in prompt and "start_box='<|box_start|>(x1,y1)<|box_end|>'" in prompt
    space = prompt[prompt.index("## Action Space") : prompt.index("## Note")]
    for call in present:
        assert call in space, call
    for call in absent:
        assert call not in space, call


def test_every_action_space_signature_names_one_of_our_actions():
    for entry in ACTION_SPACE:
        example = entry.signature.replace("x1,y1", "10,20").replace("x3,y3", "30,40")
        example = example.replace("down or up or right or left", "down").replace("app_name=''", "app_name='Maps'")
        assert parse_action(example) is not None, entry.signature


def test_history_alternates_screenshots_and_answers_and_summarizes_older_steps():
    def image(shade: int) -> Image.Image:
        return Image.new("RGB", (8, 8), (shade, shade, shade))

    history = [
        HistoryStep(answer="Thought: a\nAction: click(start_box='(1,1)')", action_text="click(start_box='(1,1)')"),
        HistoryStep(answer="bad", action_text="", feedback="no action found"),
        HistoryStep(answer="Thought: c\nAction: wait()", action_text="wait()", image=image(1), feedback="user: ok"),
        HistoryStep(answer="Thought: d\nAction: press_back()", action_text="press_back()", image=image(2)),
    ]
    current = image(3)
    context = PromptContext(task="t", frame=FRAME)
    messages = get_dialect("uitars").build_messages(context, history, current)
    assert [m.role for m in messages] == ["user", "user", "assistant", "user", "assistant", "user"]
    opening = messages[0].joined_text()
    assert "## Earlier Actions" in opening and "1. click(start_box='(1,1)')" in opening
    assert "2. bad -> no action found" in opening
    assert messages[1].images() == (history[2].image,)
    assert messages[2].joined_text() == "Thought: c\nAction: wait()"
    assert messages[3].parts == ("user: ok", history[3].image)
    assert messages[5].images() == (current,)
    assert UITarsDialect.info.default_image_history == 5


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            "Thought: go\nAction: click(start_box='<|box_start|>(235,512)<|box_end|>')",
            [Click(point=Point(x=235, y=512))],
        ),
        ("Action: click(start_box='(235,512)')", [Click(point=Point(x=235, y=512))]),
        ("Action: click(start_box='[100,200,300,400]')", [Click(point=Point(x=200, y=300))]),
        ("Action: click(start_box='<point>235 512</point>')", [Click(point=Point(x=235, y=512))]),
        ("Action: click(point='<point>235 512</point>')", [Click(point=Point(x=235, y=512))]),
        ("Action: click(start_box=<point>235 512</point>)", [Click(point=Point(x=235, y=512))]),
        ("Action: click(start_box='(235.4,511.5)')", [Click(point=Point(x=235, y=512))]),
        ("Action: left_double(start_box='(1,2)')", [DoubleClick(point=Point(x=1, y=2))]),
        ("Action: right_single(start_box='(1,2)')", [RightClick(point=Point(x=1, y=2))]),
        ("Action: long_press(start_box='(1,2)')", [LongPress(point=Point(x=1, y=2))]),
        ("Action: drag(start_box='(1,2)', end_box='(3,4)')", [Drag(start=Point(x=1, y=2), end=Point(x=3, y=4))]),
        ("Action: hotkey(key='ctrl c')", [Hotkey(keys=("ctrl", "c"))]),
        ("Action: scroll(start_box='(5,5)', direction='up')", [Scroll(point=Point(x=5, y=5), direction="up")]),
        ("Action: open_app(app_name='Chrome')", [OpenApp(name="Chrome")]),
        ("Action: press_home()", [PressHome()]),
        ("Action: press_back()", [PressBack()]),
        ("Action: wait()", [Wait()]),
        ("Action: finished(content='booked it')", [Finished(message="booked it")]),
        ("Action: call_user()", [CallUser()]),
        ("Action: type(content='abc\\n')", [Type(text="abc", submit=True)]),
        ("Action: type(content='I\\'m \\\"here\\\"')", [Type(text='I\'m "here"')]),
        ("Action: type(content='It's a \"test\"')", [Type(text='It\'s a "test"')]),
        ("Action: type(content='line one\nline two\\n')", [Type(text="line one\nline two", submit=True)]),
        ("Action: type(content='你好，世界 😀')", [Type(text="你好，世界 😀")]),
        ("Action: type(content='a, key=b')", [Type(text="a, key=b")]),
        (
            "Reflection: that failed\nAction_Summary: click OK\nAction: click(start_box='(9,9)')",
            [Click(point=Point(x=9, y=9))],
        ),
        (
            "Thought: two steps\nAction: click(start_box='(1,1)')\n\ntype(content='hi\\n')",
            [Click(point=Point(x=1, y=1)), Type(text="hi", submit=True)],
        ),
        (
            "Thought: t\nAction: click(start_box='(1,1)')\n\nAction: hotkey(key='enter')",
            [Click(point=Point(x=1, y=1)), Hotkey(keys=("enter",))],
        ),
        ("## Output Format\n```\nThought: ...\nAction: ...\n```\nThought: real\nAction: wait()", [Wait()]),
        ("Thought: old\nAction: click(start_box='(1,1)')\nThought: new\nAction: press_back()", [PressBack()]),
        ("Action: click(start_box='(1,1)')  # the OK button", [Click(point=Point(x=1, y=1))]),
        ("click(start_box='(7,7)')", [Click(point=Point(x=7, y=7))]),
        (
            '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [3, 4]}}</tool_call>',
            [Click(point=Point(x=3, y=4))],
        ),
    ],
)
def test_parses_every_form(answer, expected):
    assert list(parse(answer).actions) == expected


def test_thought_is_read():
    assert parse("Thought: the menu is closed\nAction: wait()").thought == "the menu is closed"
    assert parse("Action_Summary: press OK\nAction: wait()").thought == "press OK"


def test_relative_coordinates_are_checked_against_0_to_1000():
    dialect = get_dialect("uitars", coordinates="relative")
    assert dialect.relative is True and get_dialect("uitars").relative is False
    assert dialect.parse("Action: click(start_box='(1000,999)')", RELATIVE).actions == (
        Click(point=Point(x=1000, y=999)),
    )
    with pytest.raises(ActionParseError, match=r"0\.\.1000"):
        dialect.parse("Action: click(start_box='(1001,5)')", RELATIVE)
    # The same point is fine in an absolute frame of that size.
    assert parse("Action: click(start_box='(1001,5)')").actions == (Click(point=Point(x=1001, y=5)),)


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("Thought: hmm\nAction:", ["Action part holds no call"]),
        ("I would like to click the button", ["no action found", "Thought:"]),
        ("Action: click(start_box='(x1,y1)')", ["cannot read a point", "(x,y)"]),
        ("Action: click(start_box='(1,2)', bogus='3')", ["no argument 'bogus'"]),
        ("Action: teleport(start_box='(1,2)')", ["unknown action 'teleport'"]),
        ("Action: scroll(start_box='(1,2)', direction='diagonal')", ["direction"]),
        ("Action: type(content='unterminated", ["not a function call"]),
        ("Action: click(start_box='(-5,2)')", ["outside the screen"]),
        ("Action: hotkey(key='ctrl banana')", ["unknown key 'banana'"]),
    ],
)
def test_errors_are_informative(answer, words):
    with pytest.raises(ActionParseError) as caught:
        parse(answer)
    for word in words:
        assert word in caught.value.feedback(), caught.value.feedback()


def test_grounding_reads_points_and_calls():
    dialect = get_dialect("uitars")
    image = Image.new("RGB", (FRAME.width, FRAME.height))
    [message] = dialect.grounding_messages("the Submit button", image, FRAME)
    assert message.images() == (image,) and "the Submit button" in message.joined_text()
    assert dialect.parse_grounding("(100,200)", FRAME)[0].point == Point(x=100, y=200)
    assert dialect.parse_grounding("click(start_box='<|box_start|>(5,6)<|box_end|>')", FRAME)[0].point == Point(
        x=5, y=6
    )
    assert dialect.parse_grounding("<point>7 8</point>", FRAME)[0].point == Point(x=7, y=8)
    with pytest.raises(ActionParseError):
        dialect.parse_grounding("(5000,6)", FRAME)


@pytest.mark.parametrize(
    ("model", "dialect"),
    [
        ("ByteDance-Seed/UI-TARS-1.5-7B", "uitars"),
        ("bytedance-research/UI-TARS-7B-DPO", "uitars"),
        ("ui_tars_72b", "uitars"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen"),
        ("qwen-vl-max", "qwen"),
        ("", "qwen"),
    ],
)
def test_default_dialect_for_model(model, dialect):
    assert model_setup(model).dialect == dialect


def test_get_dialect_names_and_errors():
    assert get_dialect("UI-TARS").name == "uitars" and get_dialect("qwen").name == "qwen"
    with pytest.raises(ValueError, match="qwen, uitars"):
        get_dialect("gpt")
    with pytest.raises(ValueError):
        get_dialect("qwen", coordinates="normalized")
