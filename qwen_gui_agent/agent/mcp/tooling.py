"""What every tool module shares: the ``device`` argument, the policy's refusal, a stopped call's answer.

Two kinds of error reach the client, as the MCP specification splits them:

- a call the server's policy refuses is a protocol error (``POLICY_REFUSED``) naming the flag that would
  allow it: nothing was attempted, nothing recorded;
- everything that went wrong while doing the call (bad arguments, a device or model failure, a model that
  found nothing) is a tool error (``isError``) whose text says why, so the calling model can correct itself.
"""

from __future__ import annotations

import logging
from typing import Annotated, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..records.run_files import StepRecord
from .calls import Interrupted
from .policy import Access, Refused
from .recording import DeviceRun
from .workbench import Workbench

log = logging.getLogger(__name__)

T = TypeVar("T")

POLICY_REFUSED = -32003  # JSON-RPC's range for server-defined errors; -32000..-32002 are taken by the SDK

DeviceArg = Annotated[
    str | None,
    Field(
        description="A device this server serves, as the `devices` tool lists it (e.g. desktop, android:SERIAL); "
        "default: the first --device."
    ),
]

READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
ACTS = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=True)


def allowed(bench: Workbench, tool: str, needed: Access, device: str | None) -> str:
    """The device the call runs on, or the policy's refusal as an MCP protocol error."""
    try:
        return bench.device_for(tool, needed, device)
    except Refused as refused:
        log.warning("%s", refused)  # the server's own record of what its policy kept from happening
        raise refusal(refused) from None


def refusal(refused: Refused) -> MCPError:
    """The policy's refusal as the MCP protocol error the client gets: nothing was attempted."""
    return MCPError(code=POLICY_REFUSED, message=str(refused))


def finished(outcome: T | Interrupted) -> T:
    """A call's result, or the tool error of a call the server stopped (its step is recorded as interrupted)."""
    if isinstance(outcome, Interrupted):
        raise ToolError(
            f"stopped by {outcome.reason} before it finished; the step in progress is recorded as interrupted"
        )
    return outcome


def last_step(run: DeviceRun, first: int) -> StepRecord:
    """The last step a call recorded (it recorded at least one, from index ``first`` on)."""
    steps = run.steps_since(first)
    if not steps:
        raise ToolError("the call recorded no step")
    return steps[-1]
