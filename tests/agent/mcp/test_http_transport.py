"""``agent mcp --transport http``: the same tools over streamable HTTP on a loopback port.

The server runs as a service would (its own process, ``--port 0`` picks a free
port it prints); the SDK's ``Client(url)`` talks to it.
"""

from __future__ import annotations

import base64
import io
import re

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from PIL import Image

from qwen_gui_agent.agent.mcp.tooling import POLICY_REFUSED
from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.mcp.serving import FRAME, HttpAgent, agent_args, in_frame, texts_of

pytestmark = [pytest.mark.xvfb, pytest.mark.slow]


@pytest.mark.anyio
async def test_the_tools_answer_over_http(env, app, model, tmp_path):
    out = tmp_path / "runs"
    server = HttpAgent(agent_args(model.base_url, out, "--allow", "act"), env, tmp_path / "server.log")
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/mcp", server.url)
        name_x, name_y = in_frame(app.centre("name"))
        async with Client(server.url) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            shot = await client.call_tool("screenshot", {})
            clicked = await client.call_tool("do", {"action": f"click(start_box='({name_x},{name_y})')"})
            typed = await client.call_tool("type", {"text": "Li Lei", "submit": True})
            with pytest.raises(MCPError) as refused:
                await client.call_tool("screenshot", {"device": "desktop:7"})
        assert tools >= {"screenshot", "do", "tap", "type", "run_task", "replay_check"}
        (image,) = [block for block in shot.content if block.type == "image"]
        assert Image.open(io.BytesIO(base64.b64decode(image.data))).size == (FRAME.width, FRAME.height)
        assert not clicked.is_error and not typed.is_error, texts_of(clicked) + texts_of(typed)
        assert app.state()["name"] == "Li Lei"
        assert refused.value.error.code == POLICY_REFUSED and "--device desktop:7" in refused.value.error.message
        assert server.stop() == 0
    finally:
        server.close()
    run = load_run(shot.structured_content["run_dir"])  # finished when the server stopped
    assert run.info.status == "success" and [step.kind for step in run.steps] == ["screenshot", "do", "type"]
    assert "recorded 3 steps" in server.log.read_text()
