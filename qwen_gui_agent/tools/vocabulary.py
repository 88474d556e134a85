"""The vocabulary of action calls: the canonical form of each action, and the other dialects' names.

``CANONICAL_FORMS`` is the expected form parse errors show a model; ``ACTION_NAME_ALIASES`` and
``ARGUMENT_ALIASES`` map the action and argument names other dialects and model versions use onto
ours. The parser (``canonical``) and the lenient UI-TARS reader (``dialects.uitars_calls``) both
read them from here.
"""

from __future__ import annotations

CANONICAL_FORMS = (
    "click(start_box='(x,y)')",
    "double_click(start_box='(x,y)')",
    "triple_click(start_box='(x,y)')",
    "right_click(start_box='(x,y)')",
    "middle_click(start_box='(x,y)')",
    "long_press(start_box='(x,y)')",
    "drag(start_box='(x1,y1)', end_box='(x2,y2)')",
    "swipe(start_box='(x1,y1)', end_box='(x2,y2)')",
    "scroll(start_box='(x,y)', direction='down')",
    "type(content='text')",
    "hotkey(key='ctrl c')",
    "move(start_box='(x,y)')",
    "open_app(app_name='Settings')",
    "press_back()",
    "press_home()",
    "press_enter()",
    "wait()",
    "finished(content='what was done')",
    "answer(content='the answer')",
    "call_user(content='question')",
)

# Names other dialects and model versions use for our actions.
ACTION_NAME_ALIASES = {
    "left_click": "click",
    "left_single": "click",
    "tap": "click",
    "single_click": "click",
    "left_double": "double_click",
    "doubleclick": "double_click",
    "double_tap": "double_click",
    "left_triple": "triple_click",
    "tripleclick": "triple_click",
    "right_single": "right_click",
    "middle_single": "middle_click",
    "longpress": "long_press",
    "long_click": "long_press",
    "select": "drag",
    "left_click_drag": "drag",
    "drag_and_drop": "drag",
    "mouse_move": "move",
    "hover": "move",
    "mouse_over": "move",
    "input": "type",
    "type_text": "type",
    "text": "type",
    "key": "hotkey",
    "press": "hotkey",
    "keypress": "hotkey",
    "key_press": "hotkey",
    "open": "open_app",
    "launch": "open_app",
    "launch_app": "open_app",
    "back": "press_back",
    "home": "press_home",
    "enter": "press_enter",
    "sleep": "wait",
    "finish": "finished",
    "done": "finished",
    "terminate": "finished",
    "calluser": "call_user",
    "ask_user": "call_user",
    "interact": "call_user",
}

# Argument names other dialects use -> the slot each fills (the lenient reader knows names from here).
ARGUMENT_ALIASES = {
    "start_box": "start",
    "point": "start",
    "start_point": "start",
    "coordinate": "start",
    "end_box": "end",
    "end_point": "end",
    "coordinate2": "end",
    "content": "content",
    "text": "content",
    "message": "content",
    "question": "content",
    "key": "key",
    "keys": "key",
    "hotkey": "key",
    "app_name": "app",
    "package": "app",
    "name": "app",
    "app": "app",
    "direction": "direction",
    "amount": "amount",
    "duration": "duration",
    "seconds": "seconds",
    "time": "seconds",
    "status": "status",
}
