"""The suite's devices: a spec list expanded, handed out one worker at a time, dropped ones retired.

``--device`` for a suite is a comma-separated list of device specs, and
``android:*`` stands for every ready device the adb server lists.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .tasks import SuiteInputError

ALL_ANDROID = "android:*"


def split_device_specs(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def expand_device_specs(specs: Sequence[str], list_android_serials: Callable[[], list[str]]) -> list[str]:
    """The specs with ``android:*`` replaced by every ready Android device, each device once."""
    expanded: list[str] = []
    for spec in specs:
        if spec.lower() == ALL_ANDROID:
            serials = list_android_serials()
            if not serials:
                raise SuiteInputError("android:* found no ready Android device (agent devices lists them)")
            expanded.extend(f"android:{serial}" for serial in serials)
        else:
            expanded.append(spec)
    unique = list(dict.fromkeys(expanded))
    if not unique:
        raise SuiteInputError("the suite has no devices: give --device, e.g. android:* or desktop::91,desktop::92")
    return unique


@dataclass
class DevicePool:
    """Free devices, taken by one worker at a time; a retired device never comes back."""

    specs: list[str]
    _free: list[str] = field(init=False)
    _retired: dict[str, str] = field(default_factory=dict, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)

    def __post_init__(self) -> None:
        self._free = list(self.specs)

    def acquire(self, stop: threading.Event) -> str | None:
        """A free device, waiting for one; None when every device is retired or the suite stops."""
        with self._changed:
            while not self._free:
                if stop.is_set() or len(self._retired) == len(self.specs):
                    return None
                self._changed.wait(timeout=0.2)
            if stop.is_set():
                return None
            return self._free.pop(0)

    def release(self, spec: str) -> None:
        with self._changed:
            self._free.append(spec)
            self._changed.notify_all()

    def retire(self, spec: str, reason: str) -> None:
        """The device dropped (or never opened): it leaves the pool for the rest of the suite."""
        with self._changed:
            self._retired[spec] = reason
            self._changed.notify_all()

    @property
    def retired(self) -> dict[str, str]:
        with self._changed:
            return dict(self._retired)


def at_once(parallel: int, devices: int, tasks: int) -> str:
    """How many tasks really run at once, in words: one per device at most, whatever ``--parallel`` asks."""
    running = max(1, min(parallel, devices, tasks))
    if running == parallel:
        return f"{running} at once"
    limit = (
        f"only {devices} device{'s' if devices != 1 else ''}, one task each at a time"
        if devices < parallel
        else f"only {tasks} task{'s' if tasks != 1 else ''}"
    )
    return f"{running} at once (--parallel {parallel}, but {limit})"
