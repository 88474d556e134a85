"""Dialect qwen: prompt generated from the action types, tool-call parsing, grounding."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from qwen_gui_agent.tools.actions import (
    ACTION_TYPES,
    CallUser,
    Click,
    Drag,
    Finished,
    Hotkey,
    LongPress,
    Move,
    OpenApp,
    Point,
    PressBack,
    PressEnter,
    PressHome,
    Scroll,
    Swipe,
    Type,
    Wait,
)
from qwen_gui_agent.tools.dialects import QwenDialect, get_dialect
from qwen_gui_agent.tools.dialects.base import HistoryStep, PromptContext
from qwen_gui_agent.tools.dialects.qwen_schema import ACTION_TABLES, PARAMS, qwen_arguments
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message
from tests.tools.tools_strategies import actions, points

FRAME = ModelFrame(width=1932, height=1092)
PHONE = ModelFrame(width=1092, height=2408)
COMPUTER_ENUM = [
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "scroll",
    "wait",
    "terminate",
]
MOBILE_ENUM = ["key", "click", "long_press", "swipe", "type", "system_button", "open", "wait", "terminate"]


def call(arguments: dict[str, object], name: str = "computer_use") -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"


def tools_json(prompt: str) -> dict:
    match = re.search(r"<tools>\n(.*)\n</tools>", prompt, re.DOTALL)
    assert match, "no <tools></tools> block"
    return json.loads(match.group(1))


# ----------------------------------------------------------------------------- prompt


@pytest.mark.parametrize(
    ("device", "frame", "name", "enum"),
    [("computer", FRAME, "computer_use", COMPUTER_ENUM), ("mobile", PHONE, "mobile_use", MOBILE_ENUM)],
)
def test_system_prompt_has_the_trained_structure(device, frame, name, enum):
    prompt = QwenDialect().system_prompt(device, frame)
    assert prompt.index("# Tools") < prompt.index("<tools>") < prompt.index("</tools>") < prompt.index("<tool_call>")
    assert '{"name": <function-name>, "arguments": <args-json-object>}' in prompt
    assert "</tool_call>" in prompt
    schema = tools_json(prompt)
    assert schema["type"] == "function"
    function = schema["function"]
    assert function["name"] == name
    assert f"The screen's resolution is {frame.width}x{frame.height}." in function["description"]
    parameters = function["parameters"]
    assert parameters["required"] == ["action"] and parameters["type"] == "object"
    assert parameters["properties"]["action"]["enum"] == enum
    expected_params = {
        "computer": {"action", "keys", "text", "coordinate", "pixels", "time", "status"},
        "mobile": {"action", "text", "coordinate", "coordinate2", "time", "button", "status"},
    }[device]
    assert set(parameters["properties"]) == expected_params
    assert parameters["properties"]["status"]["enum"] == ["success", "failure"]
    if device == "mobile":
        assert parameters["properties"]["button"]["enum"] == ["Back", "Home", "Menu", "Enter"]


def test_relative_coordinates_state_a_1000_screen():
    prompt = QwenDialect(coordinates="relative").system_prompt("computer", ModelFrame(1932, 1092, relative=True))
    assert "The screen's resolution is 1000x1000." in prompt


def test_schema_is_generated_from_the_action_types():
    """Each Qwen action names a real Action class and real fields; descriptions come from pydantic Fields."""
    for table in ACTION_TABLES.values():
        for entry in table:
            assert entry.builds in ACTION_TYPES.values()
            for qwen_name, our_field in entry.fields.items():
                assert qwen_name in PARAMS
                assert our_field in entry.builds.model_fields or qwen_name == "button"
    schema = tools_json(QwenDialect().system_prompt("computer", FRAME))["function"]["parameters"]["properties"]
    assert Wait.model_fields["seconds"].description.capitalize() in schema["time"]["description"]
    assert Type.model_fields["text"].description.capitalize() in schema["text"]["description"]
    assert "`action=left_click`" in schema["coordinate"]["description"]
    assert "left_click_drag" in schema["action"]["description"]


def test_user_turn_holds_task_numbered_history_and_one_screenshot():
    screenshot = Image.new("RGB", (FRAME.width, FRAME.height))
    history = [
        HistoryStep(answer="...", action_text="click(start_box='(10,20)')"),
        HistoryStep(answer="...", action_text="type(content='hi\\n')", feedback="the field did not take focus"),
        HistoryStep(answer="garbage", action_text=""),
    ]
    messages = get_dialect("qwen").build_messages(PromptContext(task="find flights", frame=FRAME), history, screenshot)
    assert [m.role for m in messages] == ["system", "user"]
    user = messages[1]
    assert user.parts[-1] is screenshot and user.images() == (screenshot,)  # steps without images: text only
    text = user.joined_text()
    assert "find flights" in text
    assert 'Step 1: {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}' in text
    assert 'Step 2: {"name": "computer_use", "arguments": {"action": "type", "text": "hi\\n"}}' in text
    assert "the field did not take focus" in text and "Step 3: garbage" in text
    assert QwenDialect.info.default_image_history == 1


def test_user_turn_shows_the_screenshots_history_keeps_after_their_steps():
    """--history-images N: the loop gives the last N-1 steps an image; every one of them reaches the model."""
    screenshot = Image.new("RGB", (FRAME.width, FRAME.height), "white")
    second, third = (Image.new("RGB", (FRAME.width, FRAME.height), colour) for colour in ("red", "blue"))
    history = [
        HistoryStep(answer="...", action_text="click(start_box='(10,20)')"),
        HistoryStep(answer="...", action_text="click(start_box='(30,40)')", image=second, feedback="nothing happened"),
        HistoryStep(answer="...", action_text="wait()", image=third),
    ]
    user = get_dialect("qwen").build_messages(PromptContext(task="t", frame=FRAME), history, screenshot)[1]
    assert user.images() == (second, third, screenshot)  # oldest first, the current screen last
    position = {id(part): index for index, part in enumerate(user.parts)}
    before_second = user.parts[position[id(second)] - 1]
    assert before_second.endswith("Result of step 2: nothing happened\nThe screen step 2 was chosen on:")
    assert "Step 1:" in user.parts[0] and "Step 3:" not in user.parts[0]
    assert user.parts[position[id(third)] - 1].startswith("Step 3:")
    assert user.parts[-2] == "Here is the screen now. Make the next call."


# ----------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (call({"action": "left_click", "coordinate": [100, 200]}), [Click(point=Point(x=100, y=200))]),
        (
            call({"action": "left_click", "coordinate": [100, 200]})[: -len("</tool_call>")],
            [Click(point=Point(x=100, y=200))],
        ),
        (
            "I see the button.\n" + call({"action": "double_click", "coordinate": [1, 2]}) + "\nDone.",
            [ACTION_TYPES["double_click"](point=Point(x=1, y=2))],
        ),
        (
            "```json\n"
            + json.dumps({"name": "computer_use", "arguments": {"action": "mouse_move", "coordinate": [3, 4]}})
            + "\n```",
            [Move(point=Point(x=3, y=4))],
        ),
        (call({"action": "key", "keys": ["Control", "Return"]}), [Hotkey(keys=("ctrl", "enter"))]),
        (call({"action": "type", "text": '你好 "x"\n'}), [Type(text='你好 "x"', submit=True)]),
        (call({"action": "scroll", "pixels": 3}), [Scroll(direction="up", amount=3)]),
        (
            call({"action": "scroll", "pixels": -500, "coordinate": [9, 9]}),
            [Scroll(point=Point(x=9, y=9), direction="down", amount=100)],
        ),
        (call({"action": "left_click_drag", "coordinate": [50, 60]}), [Drag(end=Point(x=50, y=60))]),
        (call({"action": "wait"}), [Wait()]),
        (call({"action": "type", "text": "a", "coordinate": [1, 2]}), [Type(text="a")]),  # extra coordinate: accepted
        (call({"action": "wait", "time": 2}), [Wait(seconds=2)]),
        (call({"action": "terminate", "status": "failure"}), [Finished(status="failure")]),
        (call({"action": "click", "coordinate": [5, 6]}, "mobile_use"), [Click(point=Point(x=5, y=6))]),
        (
            call({"action": "long_press", "coordinate": [5, 6], "time": 3}, "mobile_use"),
            [LongPress(point=Point(x=5, y=6), duration=3)],
        ),
        (
            call({"action": "swipe", "coordinate": [1, 2], "coordinate2": [3, 4]}, "mobile_use"),
            [Swipe(start=Point(x=1, y=2), end=Point(x=3, y=4))],
        ),
        (call({"action": "system_button", "button": "Back"}, "mobile_use"), [PressBack()]),
        (call({"action": "system_button", "button": "home"}, "mobile_use"), [PressHome()]),
        (call({"action": "system_button", "button": "Enter"}, "mobile_use"), [PressEnter()]),
        (call({"action": "system_button", "button": "Menu"}, "mobile_use"), [Hotkey(keys=("menu",))]),
        (call({"action": "key", "text": "KEYCODE_BACK"}, "mobile_use"), [PressBack()]),
        (call({"action": "key", "text": "enter"}), [PressEnter()]),  # mobile's key under the wrong function name
        (call({"action": "key", "keys": "ctrl+a"}, "mobile_use"), [Hotkey(keys=("ctrl", "a"))]),
        (call({"action": "open", "text": "Settings"}, "mobile_use"), [OpenApp(name="Settings")]),
        (
            call({"action": "left_click", "coordinate": [1, 1]}) + call({"action": "type", "text": "a"}),
            [Click(point=Point(x=1, y=1)), Type(text="a")],
        ),
        (
            '<tool_call>{"name": "computer_use", "arguments": "{\\"action\\": \\"left_click\\", \\"coordinate\\": [7, 8]}"}</tool_call>',
            [Click(point=Point(x=7, y=8))],
        ),
        (
            '<tool_call>{"name": "left_click", "arguments": {"coordinate": [7, 8]}}</tool_call>',
            [Click(point=Point(x=7, y=8))],
        ),
        ('{"action": "left_click", "coordinate": [7, 8]}', [Click(point=Point(x=7, y=8))]),
        (call({"action": "call_user", "text": "which account?"}), [CallUser(question="which account?")]),
        ("Thought: drift\nAction: click(start_box='(10,10)')", [Click(point=Point(x=10, y=10))]),
    ],
)
def test_parses_the_forms_models_write(answer, expected):
    assert list(get_dialect("qwen").parse(answer, FRAME).actions) == expected


def test_thought_is_the_text_before_the_call():
    parsed = get_dialect("qwen").parse("The OK button is bottom right.\n" + call({"action": "wait"}), FRAME)
    assert parsed.thought == "The OK button is bottom right."


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ("", ["empty"]),
        ("I cannot see anything useful.", ["no <tool_call>", '"name": "computer_use"']),
        (
            '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1,',
            ["JSON", "broken"],
        ),
        (call({"action": "left_click"}), ["left_click needs the `coordinate`"]),
        (call({"action": "left_click", "coordinate": [3000, 10]}), ["outside the screen", "0..1932"]),
        (call({"action": "left_click", "coordinate": "near the top"}), ["cannot read a point"]),
        (call({"action": "scroll", "pixels": 0}), ["pixels must be a non-zero number"]),
        (call({"action": "teleport", "coordinate": [1, 1]}), ["unknown action 'teleport'"]),
        (call({"action": "system_button", "button": "Power"}, "mobile_use"), ["unknown system button", "Back"]),
        (call({"action": "terminate", "status": "maybe"}), ["status"]),
        ('<tool_call>{"name": "computer_use"}</tool_call>', ['no "arguments"']),
        ('<tool_call>["left_click"]</tool_call>', ["one JSON object"]),
        ("x" * 8_001, ["longer than"]),
    ],
)
def test_errors_are_informative(answer, words):
    with pytest.raises(ActionParseError) as caught:
        get_dialect("qwen").parse(answer, FRAME)
    for word in words:
        assert word in caught.value.feedback()


@settings(max_examples=300, deadline=None)
@given(actions(points(1092, 1092, min_value=0)), st.sampled_from(["computer", "mobile"]))
def test_qwen_form_round_trip(action, device):
    """Every action Qwen's function can express reads back to itself from its call JSON."""
    arguments = qwen_arguments(action, device)
    if arguments is None:
        return
    dialect = QwenDialect()
    answer = call(arguments, "computer_use" if device == "computer" else "mobile_use")
    assert dialect.parse(answer, FRAME).actions == (action,)
    assert dialect.format_call(action, device) in answer


# ----------------------------------------------------------------------------- grounding


def test_grounding_messages_and_bbox_answer():
    dialect = get_dialect("qwen")
    screenshot = Image.new("RGB", (FRAME.width, FRAME.height))
    messages = dialect.grounding_messages("the blue Search button", screenshot, FRAME)
    assert messages == [Message("user", (screenshot, messages[0].parts[1]))]
    assert "the blue Search button" in messages[0].parts[1] and "bbox_2d" in messages[0].parts[1]
    hits = dialect.parse_grounding(
        '```json\n[{"bbox_2d": [100, 200, 300, 260], "label": "Search"}, {"point_2d": [5, 6], "label": "x"}]\n```',
        FRAME,
    )
    assert hits[0].point == Point(x=200, y=230) and hits[0].box == (100, 200, 300, 260) and hits[0].label == "Search"
    assert hits[1].point == Point(x=5, y=6) and hits[1].box is None


@pytest.mark.parametrize("answer", ["nothing here", '[{"bbox_2d": [0, 0, 5000, 5000]}]', '[{"label": "x"}]'])
def test_grounding_errors(answer):
    with pytest.raises(ActionParseError):
        get_dialect("qwen").parse_grounding(answer, FRAME)


@pytest.mark.parametrize("dialect", ["qwen", "qwen3", "qwen3.5", "guiowl"])
def test_a_uitars_answer_quoting_a_tool_call_tag_is_read_as_uitars(dialect):
    # Hypothesis found it: call_user(content='<tool_call>') made the tool-call reader give up on the whole answer.
    reader = get_dialect(dialect, coordinates="absolute")
    assert reader.parse("Action: call_user(content='<tool_call>')", FRAME).actions == (
        CallUser(question="<tool_call>"),
    )
    with pytest.raises(ActionParseError, match="must hold one JSON object"):
        reader.parse("I will click it.\n<tool_call>left_click at the OK button</tool_call>", FRAME)
