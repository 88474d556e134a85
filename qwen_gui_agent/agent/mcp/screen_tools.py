"""The tools that only look: ``devices``, ``screenshot``, ``query`` and ``assert`` (``--allow read``).

``screenshot`` sends the image at the frame the model sees (the screenshot
resized by ``smart_resize`` under the model's pixel bounds), so what the
calling assistant looks at is what the agent's model looks at, and ``do``'s
default coordinates are pixels of that image. Each screenshot, query and
assert is a recorded step of the device's run.
"""

from __future__ import annotations

import base64
import io
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from ...devices import DeviceEntry as ScannedDevice
from ...devices import list_devices, parse_device_spec
from ..runtime.queries import QueryFailed, ask_query
from ..runtime.session import Session
from ..runtime.steps import CheckFailed, check
from .calls import CallControl
from .json_answers import BadSchema, answer_adapter
from .recording import DeviceRun
from .results import AssertResult, DeviceEntry, DevicesResult, QueryResult, ScreenshotResult
from .tooling import READS, DeviceArg, allowed, finished, last_step
from .workbench import Workbench


def register(server: MCPServer, bench: Workbench) -> None:
    @server.tool(name="devices", annotations=READS)
    async def devices() -> DevicesResult:
        """The devices this server drives (with what it allows on each) and the others a scan finds reachable:
        desktop monitors and the phones adb lists."""
        scanned = finished(
            await bench.off_device(
                lambda: list_devices(desktop=bench.settings.desktop, android=bench.settings.android), what="devices"
            )
        )
        return DevicesResult(devices=device_entries(bench, scanned))

    @server.tool(name="screenshot", annotations=READS, structured_output=True)
    async def screenshot(device: DeviceArg = None) -> Annotated[CallToolResult, ScreenshotResult]:
        """The device's screen now, as a PNG image at the frame the agent's model sees (with its size).
        `do` takes points in pixels of this image by default."""
        spec = allowed(bench, "screenshot", "read", device)

        def work(run: DeviceRun, session: Session) -> tuple[ScreenshotResult, str]:
            with session.step("screenshot") as draft:
                observation = session.observe(draft)
                draft.note = "sent to the MCP client"
            shot = observation.shot.geometry
            result = ScreenshotResult(
                device=spec,
                run_dir=str(run.directory),
                step=draft.index,
                width=observation.image.width,
                height=observation.image.height,
                screen_width=shot.width,
                screen_height=shot.height,
            )
            png = io.BytesIO()
            observation.image.save(png, format="PNG")
            return result, base64.b64encode(png.getvalue()).decode("ascii")

        result, data = finished(await bench.on_device_run(spec, work, CallControl(), what="screenshot"))
        return CallToolResult(
            content=[
                ImageContent(type="image", data=data, mime_type="image/png"),
                TextContent(type="text", text=result.model_dump_json()),
            ],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(name="query", annotations=READS)
    async def query(
        question: Annotated[str, Field(min_length=1, description="What to read off the screen.")],
        schema: Annotated[
            dict[str, Any] | None,
            Field(
                description='The JSON Schema the answer must match, e.g. {"type": "object", "properties": '
                '{"price": {"type": "number"}}, "required": ["price"]}; default: any JSON value.'
            ),
        ] = None,
        device: DeviceArg = None,
    ) -> QueryResult:
        """Ask the agent's model a question about the screen; the answer is JSON checked against `schema`
        (answers that do not fit are sent back to the model with the reasons, a few times)."""
        spec = allowed(bench, "query", "read", device)
        try:
            adapter = answer_adapter(schema)
        except BadSchema as error:
            raise ToolError(f"the schema is not a JSON Schema: {error}") from None

        def work(run: DeviceRun, session: Session) -> QueryResult:
            first = session.steps_recorded + 1
            try:
                value = ask_query(session, question, adapter)
            except QueryFailed as failed:
                raise ToolError(
                    bench.secrets.redact(f"{failed.message}; the model's last answer: {failed.answer}")
                ) from None
            record = last_step(run, first)
            return QueryResult(
                device=spec, run_dir=str(run.directory), step=record.index, value=bench.secrets.redact_data(value)
            )

        return finished(await bench.on_device_run(spec, work, CallControl(), what="query"))

    @server.tool(name="assert", annotations=READS)
    async def assert_statement(
        statement: Annotated[
            str, Field(min_length=1, description="A statement about the screen, e.g. 'the Save button is greyed out'.")
        ],
        device: DeviceArg = None,
    ) -> AssertResult:
        """Ask the agent's model whether the statement is true of the screen now: a verdict and its evidence
        (a false statement is a normal result with passed=false, not an error)."""
        spec = allowed(bench, "assert", "read", device)

        def work(run: DeviceRun, session: Session) -> AssertResult:
            first = session.steps_recorded + 1
            try:
                check(session, statement)
                passed = True
            except CheckFailed:
                passed = False
            record = last_step(run, first)
            return AssertResult(
                device=spec,
                run_dir=str(run.directory),
                step=record.index,
                statement=statement,
                passed=passed,
                reason=bench.secrets.redact(record.thought),
            )

        return finished(await bench.on_device_run(spec, work, CallControl(), what="assert"))


def device_entries(bench: Workbench, scanned: list[ScannedDevice]) -> list[DeviceEntry]:
    """The served devices first (each matched with what the scan found of it), then the rest of the scan."""
    policy = bench.policy
    entries: list[DeviceEntry] = []
    matched: set[str] = set()
    for spec in policy.devices:
        found = _scan_match(spec, scanned)
        if found is not None:
            matched.add(found.spec)
        entries.append(
            DeviceEntry(
                spec=spec,
                kind=parse_device_spec(spec).kind,
                served=True,
                allow=policy.access[spec],
                default=spec == policy.default_device,
                available=found.available if found else None,
                summary=found.summary if found else "",
                hint=found.hint if found else "",
            )
        )
    for other in scanned:
        if other.spec in matched or other.spec in policy.devices:
            continue
        entries.append(
            DeviceEntry(
                spec=other.spec,
                kind=other.kind,
                served=False,
                allow="none",
                default=False,
                available=other.available,
                summary=other.summary,
                hint=other.hint,
            )
        )
    return entries


def _scan_match(spec: str, scanned: list[ScannedDevice]) -> ScannedDevice | None:
    """What the scan found of a served spec: the same spec, the primary monitor for ``desktop``, the only phone
    for ``android``."""
    for entry in scanned:
        if entry.spec == spec:
            return entry
    if spec == "desktop":  # the primary monitor, else the first, as the desktop driver chooses
        monitors = [entry for entry in scanned if entry.kind == "desktop" and entry.details.get("monitor", 0) >= 1]
        return next((entry for entry in monitors if entry.details.get("primary")), monitors[0] if monitors else None)
    if spec == "android":
        phones = [entry for entry in scanned if entry.kind == "android" and entry.spec != "android"]
        return phones[0] if len(phones) == 1 else None
    return None
