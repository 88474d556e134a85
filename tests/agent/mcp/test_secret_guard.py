"""The wire's own guard: a declared secret sent in an argument is a placeholder before the call runs, and the
text of errors (the SDK's argument errors quote what was sent) never carries a value back."""

from __future__ import annotations

from typing import Annotated

import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from pydantic import Field

from qwen_gui_agent.agent.mcp.redaction import secret_guard
from qwen_gui_agent.agent.runtime.secrets import Secrets

pytestmark = pytest.mark.anyio

PASSWORD = "Tr0ub4dor&3-secret"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def guarded_server(seen: list[str]) -> MCPServer:
    server: MCPServer = MCPServer("guarded", middleware=[secret_guard(Secrets({"PW": PASSWORD, "PIN": "4711"}))])

    @server.tool()
    def echo(text: str, also: Annotated[list[str], Field(default_factory=list)]) -> str:
        seen.extend([text, *also])
        return "ok"

    @server.tool()
    def fail(text: str) -> str:
        raise ToolError(f"could not use {text} or {PASSWORD}")

    @server.tool()
    def refuse(text: str) -> str:
        raise MCPError(code=-32003, message=f"refused: {PASSWORD}")

    @server.tool()
    def count(number: int) -> int:
        return number

    return server


async def test_a_value_sent_by_the_client_becomes_its_placeholder_before_the_call_runs():
    seen: list[str] = []
    async with Client(guarded_server(seen)) as client:
        await client.call_tool("echo", {"text": f"log in with {PASSWORD}", "also": ["PIN 4711", "47110", "a4711"]})
    # A short value (under six characters) is replaced only as a whole word, as in a model's answer.
    assert seen == ["log in with {{secret:PW}}", "PIN {{secret:PIN}}", "47110", "a4711"]


async def test_error_texts_never_carry_a_value_back():
    async with Client(guarded_server([])) as client:
        failed = await client.call_tool("fail", {"text": "x"})
        malformed = await client.call_tool("count", {"number": PASSWORD})  # pydantic quotes the input
        with pytest.raises(MCPError) as refused:
            await client.call_tool("refuse", {"text": "x"})
    texts = [block.text for result in (failed, malformed) for block in result.content]
    assert failed.is_error and malformed.is_error
    assert all(PASSWORD not in text for text in texts), texts
    assert "{{secret:PW}}" in texts[0]
    assert refused.value.error.message == "refused: {{secret:PW}}"
