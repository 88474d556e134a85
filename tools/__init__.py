"""The action language every other part speaks: actions, dialects, coordinate frames.

This package imports nothing else of the project's.
"""

from qwen_gui_agent.tools.actions import Action, DeviceKind, Point
from qwen_gui_agent.tools.canonical import format_action, parse_action
from qwen_gui_agent.tools.errors import ActionParseError
from qwen_gui_agent.tools.frames import ModelFrame, ScreenGeometry, map_action, smart_resize, to_input_point

__all__ = [
    "Action", "ActionParseError", "DeviceKind", "ModelFrame", "Point", "ScreenGeometry",
    "format_action", "map_action", "parse_action", "smart_resize", "to_input_point",
]
