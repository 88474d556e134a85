"""Everything ``agent mcp`` serves with, read once at the edge (commands/mcp.py) and frozen here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ...devices.android.settings import AndroidSettings
from ...devices.desktop.settings import DesktopSettings
from ..backends.settings import BackendSettings
from ..runtime.secrets import Secrets
from ..runtime.session import LoopSettings
from .policy import Policy

Transport = Literal["stdio", "http"]
HTTP_PATH = "/mcp"


@dataclass(frozen=True)
class ServedModel:
    """The model the server asks (started on the first call that needs it) and how it is prompted."""

    settings: BackendSettings
    dialect: str
    coordinates: Literal["absolute", "relative"]
    info: dict[str, Any] = field(default_factory=dict)  # what a run records about it: no API key


@dataclass(frozen=True)
class ServerSettings:
    policy: Policy
    model: ServedModel
    loop: LoopSettings  # its timeout bounds each run_task; the runs of single calls have none
    out_dir: Path
    secrets: Secrets = field(default_factory=Secrets)
    desktop: DesktopSettings = field(default_factory=DesktopSettings)
    android: AndroidSettings = field(default_factory=AndroidSettings)
    transport: Transport = "stdio"
    host: str = "127.0.0.1"
    port: int = 8765
    write_report: bool = True
    environ: Mapping[str, str] = field(default_factory=dict)  # ${VAR} in task files, read at startup

    def url(self, port: int | None = None) -> str:
        """Where an MCP client reaches the HTTP server (``port``: the one bound, when --port was 0)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}{HTTP_PATH}"
