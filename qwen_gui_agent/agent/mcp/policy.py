"""Who may do what through ``agent mcp``: the served devices and, for each, ``read`` or ``act``.

    --device desktop,android:emulator-5554      the devices the server drives (the first is the default)
    --allow read                                every served device: screenshots, queries, asserts (the default)
    --allow act                                 every served device: actions and tasks too
    --allow act=android:emulator-5554           only that device (a device's own entry beats the general one)

A refused call names the flag that would allow it, so the person at the MCP
client knows how to restart the server. Nothing here knows about MCP: the
tools turn a ``Refused`` into the protocol's error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

Access = Literal["read", "act"]
ACCESS_LEVELS: tuple[Access, ...] = ("read", "act")
DEFAULT_ACCESS: Access = "read"  # acting on someone's screen is asked for, never assumed
ALLOW_FORMS = "read, act, read=SPEC[,SPEC...] or act=SPEC[,SPEC...]"


class Refused(Exception):
    """A call the server's policy does not allow; the message names the flag that would."""


class PolicyError(ValueError):
    """An ``--allow`` or ``--device`` value that cannot be used (bad input at startup)."""


@dataclass(frozen=True)
class Policy:
    """The served devices, in the order given, and the access each one has."""

    devices: tuple[str, ...]
    access: Mapping[str, Access] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.devices:
            raise PolicyError("no device to serve: give --device, e.g. desktop or android:SERIAL")
        object.__setattr__(self, "access", MappingProxyType(dict(self.access)))

    @property
    def default_device(self) -> str:
        return self.devices[0]

    def level(self, spec: str) -> Access | None:
        """The access ``spec`` has, or None for a device this server does not serve."""
        return self.access.get(spec) if spec in self.devices else None

    def device_for(self, requested: str | None) -> str:
        """The served device a call names (None: the default one); Refused for any other."""
        if requested is None or not requested.strip():
            return self.default_device
        spec = requested.strip()
        if spec not in self.devices:
            raise Refused(
                f"refused: {spec} is not a device this server serves (it serves {', '.join(self.devices)}); "
                f"start agent mcp with --device {spec} to serve it"
            )
        return spec

    def check(self, tool: str, needed: Access, spec: str) -> None:
        """Refused unless ``spec`` allows ``needed`` (act includes read)."""
        level = self.level(spec)
        if level is None:
            self.device_for(spec)  # raises, naming --device
        if needed == "act" and level != "act":
            raise Refused(
                f"refused: {tool} acts on the device, and this server allows only {level} on {spec}; "
                f"start agent mcp with --allow act (every device) or --allow act={spec} (this one)"
            )


def build_policy(devices: Sequence[str], allow: Sequence[str]) -> Policy:
    """The policy of ``--device`` (served specs) and ``--allow`` values; PolicyError names the bad value."""
    served = tuple(dict.fromkeys(spec.strip() for spec in devices if spec.strip()))
    general: Access | None = None
    own: dict[str, Access] = {}
    for value in allow:
        level_text, has_devices, specs_text = value.strip().partition("=")
        level = _level(level_text, value)
        if not has_devices:
            general = level
            continue
        specs = [spec.strip() for spec in specs_text.split(",") if spec.strip()]
        if not specs:
            raise PolicyError(f"--allow {value!r}: name the devices after '=', e.g. {level}=android:emulator-5554")
        for spec in specs:
            if spec not in served:
                raise PolicyError(
                    f"--allow {value!r}: {spec} is not a served device ({', '.join(served) or 'none'}); "
                    f"add it to --device"
                )
            own[spec] = level
    fallback = general or DEFAULT_ACCESS
    return Policy(devices=served, access={spec: own.get(spec, fallback) for spec in served})


def _level(text: str, value: str) -> Access:
    level = text.strip().lower()
    for known in ACCESS_LEVELS:
        if level == known:
            return known
    raise PolicyError(f"--allow {value!r} is not a policy; use {ALLOW_FORMS}")


def describe(policy: Policy) -> str:
    """``desktop (act), android:emulator-5554 (read)``: for the startup line."""
    return ", ".join(f"{spec} ({policy.access[spec]})" for spec in policy.devices)
