"""The Device interface every driver implements.

Units: screenshots are physical pixels; actions given to ``plan``/``execute``
are already in the device's *input frame* (see ``qwen_gui_agent.tools.frames``), so drivers do
no coordinate math of their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from types import TracebackType

from PIL import Image

from ..tools.actions import Action, DeviceKind
from ..tools.frames import ScreenGeometry


@dataclass(frozen=True)
class Screenshot:
    image: Image.Image  # RGB, physical pixels
    geometry: ScreenGeometry
    captured_at: float  # time.time() when the capture finished
    capture_ms: float


@dataclass(frozen=True)
class Execution:
    """What the driver told the device for one action (deterministic text, for logs and replay)."""

    action: Action
    commands: tuple[str, ...]


class Device(ABC):
    kind: DeviceKind
    name: str

    @abstractmethod
    def screenshot(self) -> Screenshot:
        """Capture the screen now."""

    @abstractmethod
    def plan(self, action: Action) -> tuple[str, ...]:
        """The commands ``execute`` would send for ``action``, without sending them."""

    @abstractmethod
    def execute(self, action: Action) -> Execution:
        """Perform ``action`` (input frame) and say what was sent."""

    def describe(self) -> dict[str, object]:
        """Facts worth recording with a run (model, resolution, monitor ...)."""
        return {"kind": self.kind, "name": self.name}

    def program_environment(self) -> dict[str, str] | None:
        """The environment of a program a task starts for this device (``launch:``); None: this process's own."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the driver holds (IME switched, connections)."""

    def __enter__(self) -> Device:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
