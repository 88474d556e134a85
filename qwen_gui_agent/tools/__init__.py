"""The action language every other part speaks: actions, dialects, coordinate frames.

This package imports nothing else of the project's.
"""

from .actions import Action, DeviceKind, Point
from .canonical import format_action, parse_action
from .errors import ActionParseError
from .frames import ModelFrame, ScreenGeometry, map_action, smart_resize, to_input_point

__all__ = [
    "Action",
    "ActionParseError",
    "DeviceKind",
    "ModelFrame",
    "Point",
    "ScreenGeometry",
    "format_action",
    "map_action",
    "parse_action",
    "smart_resize",
    "to_input_point",
]
