"""Device failures: infrastructure, not model mistakes, so they propagate.

Each carries a ``hint`` saying what the user can do about it.
The one exception is ``UnsupportedAction``: asking a phone to right-click is
the model's mistake, so it is an ``ActionParseError`` the loop feeds back.
"""

from __future__ import annotations

from ..tools.errors import ActionParseError


class DeviceError(RuntimeError):
    def __init__(self, message: str, *, hint: str = "") -> None:
        self.hint = hint
        super().__init__(f"{message}. {hint}" if hint else message)


class MissingDependency(DeviceError):
    """A library, tool or display the driver needs is not there."""


class DeviceNotFound(DeviceError):
    """No device matches what was asked for."""


class DeviceDisconnected(DeviceError):
    """The device went away and did not come back within the retries."""


class CaptureError(DeviceError):
    """A screenshot failed or came back unusable (black, empty, undecodable)."""


class FailSafeTriggered(DeviceError):
    """The user moved the mouse into a screen corner: stop everything now."""


class UnsupportedAction(ActionParseError):
    """The action does not exist on this kind of device."""
