"""The typed results of the MCP tools: each one's JSON schema is the tool's ``outputSchema``.

Every call that looks at or acts on a screen says where it was recorded
(``run_dir`` and the ``step`` index in it), so ``agent report RUN`` and
``agent replay RUN --check`` find it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Recorded(BaseModel):
    device: str = Field(description="The device spec the call ran on.")
    run_dir: str = Field(description="The run directory the call was recorded in (agent report / agent replay).")
    step: int = Field(description="The call's step in that run (1-based).")


class DeviceEntry(BaseModel):
    spec: str = Field(description="What to pass as `device` (served devices only).")
    kind: Literal["desktop", "android"]
    served: bool = Field(description="Whether this server drives the device (its --device list).")
    allow: Literal["none", "read", "act"] = Field(description="What this server allows on it (--allow).")
    default: bool = Field(description="Used when a call names no device.")
    available: bool | None = Field(description="Whether a scan found it reachable now; null when not scanned.")
    summary: str = ""
    hint: str = ""


class DevicesResult(BaseModel):
    devices: list[DeviceEntry]


class ScreenshotResult(Recorded):
    width: int = Field(description="Width of the image sent: the frame the model sees, and of `do`'s default frame.")
    height: int = Field(description="Height of the image sent.")
    screen_width: int = Field(description="The device's screenshot width in physical pixels.")
    screen_height: int = Field(description="The device's screenshot height in physical pixels.")


class ActResult(Recorded):
    action: str = Field(description="The action as given, in the frame it was written in.")
    frame: str = Field(description="That frame: WxH pixels, or 'relative' (0..1000), or 'screen' pixels.")
    executed: list[str] = Field(description="The action as the device got it (input frame).")
    commands: list[str] = Field(description="What the driver sent.")


class TapResult(Recorded):
    label: str = Field(description="What the model said it found.")
    x: int = Field(description="Where it tapped, in pixels of the screenshot image (the model's frame).")
    y: int
    screen_x: int = Field(description="The same point in the device's screenshot pixels.")
    screen_y: int
    commands: list[str] = Field(description="What the driver sent.")


class QueryResult(Recorded):
    value: Any = Field(description="The answer, as JSON that matches the schema given (any JSON without one).")


class AssertResult(Recorded):
    statement: str
    passed: bool = Field(description="The model's verdict: true when it judges the statement true of the screen.")
    reason: str = Field(description="The model's evidence for its verdict.")


class TaskResult(BaseModel):
    task: str = Field(description="The run's task: the goal, or the task file's name.")
    status: Literal["success", "failure", "stuck", "budget", "interrupted", "needs_user", "error"] = Field(
        description="How the run ended (interrupted: the call was cancelled or the server stopped)."
    )
    message: str = Field(description="The model's closing answer, or why the run ended.")
    steps: int = Field(description="Steps recorded.")
    run_dir: str = Field(description="The run's own directory (agent report / agent replay / replay_check).")
    values: dict[str, Any] = Field(
        default_factory=dict, description="What the task file's query steps saved (save_as -> JSON value)."
    )
    device: str


class ReplayStep(BaseModel):
    index: int
    kind: str
    summary: str
    passed: bool
    problems: list[str] = Field(default_factory=list)
    skipped: str = Field("", description="Why nothing could be compared in this step, if so.")


class ReplayCheckResult(BaseModel):
    run_dir: str
    passed: bool = Field(description="True when today's code turns every recorded answer into the recorded commands.")
    status: str = Field(description="How the recorded run ended.")
    checked: int
    failed: int
    steps: list[ReplayStep]
