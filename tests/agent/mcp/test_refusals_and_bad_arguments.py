"""What ``agent mcp`` refuses (its policy) and what it cannot use (malformed arguments): errors, and nothing acts.

A refusal is an MCP protocol error naming the flag that would allow the call;
a malformed call is a tool error saying what is wrong. Either way the app's
own state shows that nothing was clicked or typed, the model was never asked,
and the server answers the next call.
"""

from __future__ import annotations

import os

import pytest
from mcp.shared.exceptions import MCPError

from qwen_gui_agent.agent.mcp.tooling import POLICY_REFUSED
from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.mcp.serving import agent_args, in_frame, stdio_agent, texts_of
from tests.support.e2e import agent_env

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.anyio]


async def refused(client, tool: str, arguments: dict) -> str:
    """The refusal's message; fails the test if the call was not refused."""
    with pytest.raises(MCPError) as refusal:
        await client.call_tool(tool, arguments)
    assert refusal.value.error.code == POLICY_REFUSED
    return refusal.value.error.message


async def test_under_allow_read_every_acting_tool_is_refused_and_nothing_acts(env, app, model, tmp_path):
    out = tmp_path / "runs"
    name_x, name_y = in_frame(app.centre("name"))
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, out, "--allow", "read"), env, log) as client:
            messages = [
                await refused(client, "do", {"action": f"click(start_box='({name_x},{name_y})')"}),
                await refused(client, "type", {"text": "Li Lei"}),
                await refused(client, "tap", {"target": "the Confirm button"}),
                await refused(client, "run_task", {"goal": "book a flight"}),
            ]
            assert not out.exists()  # refused calls record nothing
            shot = await client.call_tool("screenshot", {})  # reading is allowed
    for tool, message in zip(("do", "type", "tap", "run_task"), messages, strict=True):
        assert message.startswith(f"refused: {tool} acts on the device")
        assert "--allow act" in message and "--allow act=desktop" in message
    state = app.state()
    assert (state["name"], state["destination"], state["confirm_clicks"]) == ("", None, 0)
    assert model.requests == []
    assert not shot.is_error
    assert [step.kind for step in load_run(shot.structured_content["run_dir"]).steps] == ["screenshot"]


async def test_a_per_device_allow_list(env, app, model, tmp_path):
    """Two specs of one screen: read on `desktop`, act on `desktop:1`; a device not served is refused too."""
    args = agent_args(
        model.base_url,
        tmp_path / "runs",
        "--device",
        "desktop,desktop:1",
        "--allow",
        "read",
        "--allow",
        "act=desktop:1",
    )
    name_x, name_y = in_frame(app.centre("name"))
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(args, env, log) as client:
            on_desktop = await refused(client, "type", {"text": "nope", "device": "desktop"})
            elsewhere = await refused(client, "screenshot", {"device": "android:emulator-5554"})
            listed = await client.call_tool("devices", {})
            clicked = await client.call_tool(
                "do", {"action": f"click(start_box='({name_x},{name_y})')", "device": "desktop:1"}
            )
            typed = await client.call_tool("type", {"text": "Han Meimei", "device": "desktop:1"})
    assert "only read on desktop" in on_desktop and "--allow act=desktop" in on_desktop
    assert "android:emulator-5554 is not a device this server serves" in elsewhere
    assert "--device android:emulator-5554" in elsewhere
    served = {entry["spec"]: entry for entry in listed.structured_content["devices"] if entry["served"]}
    assert {spec: (entry["allow"], entry["default"]) for spec, entry in served.items()} == {
        "desktop": ("read", True),
        "desktop:1": ("act", False),
    }
    assert not clicked.is_error and not typed.is_error, texts_of(clicked) + texts_of(typed)
    assert app.state()["name"] == "Han Meimei"


async def test_malformed_arguments_are_tool_errors_and_the_server_goes_on(env, app, model, tmp_path):
    out = tmp_path / "runs"
    calls = [
        ("do", {}, "action"),
        ("do", {"action": 42}, "action"),
        ("do", {"action": "click(start_box='(10,20)'"}, "bad action"),
        ("do", {"action": "teleport(to='Shanghai')"}, "unknown action 'teleport'"),
        ("do", {"action": "finished(content='done')"}, "not something a device can do"),
        ("do", {"action": "click(start_box='(10,20)')", "frame": "sideways"}, "is not a frame"),
        ("do", {"action": "click(start_box='(10,20)')", "device": ["desktop"]}, "device"),
        ("tap", {"target": ""}, "target"),
        ("type", {"text": "{{secret:NOPE}}"}, "--secret NOPE"),
        ("query", {"question": "the price?", "schema": {"type": "nonsense"}}, "not a JSON Schema"),
        ("query", {"question": "the price?", "schema": "a number"}, "schema"),
        ("run_task", {}, "either goal"),
        ("run_task", {"goal": "book", "task_file": "book.yaml"}, "either goal"),
        ("run_task", {"task_file": str(tmp_path / "missing.yaml")}, "cannot read the file"),
        ("run_task", {"goal": "book", "max_steps": 0}, "max_steps"),
        ("run_task", {"goal": "log in with {{secret:NOPE}}"}, "--secret NOPE"),
        ("replay_check", {"run": "no-such-run"}, "cannot replay"),
        ("teleport", {"to": "Shanghai"}, "Unknown tool"),
    ]
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, out, "--allow", "act"), env, log) as client:
            answers = [(tool, await client.call_tool(tool, arguments), expected) for tool, arguments, expected in calls]
            outside = await refused(client, "replay_check", {"run": str(tmp_path)})
            off_screen = await client.call_tool("do", {"action": "click(start_box='(5000,10)')"})
            shot = await client.call_tool("screenshot", {})
    for tool, answer, expected in answers:
        assert answer.is_error, (tool, answer)
        assert expected in texts_of(answer), (tool, texts_of(answer))
    assert "outside this server's runs folder" in outside and "--out" in outside
    assert off_screen.is_error and "outside" in texts_of(off_screen)
    assert not shot.is_error  # still serving
    state = app.state()
    assert (state["name"], state["destination"], state["confirm_clicks"]) == ("", None, 0)
    assert model.requests == []
    # The point off the screen was tried and recorded as a failed step, with nothing executed.
    run = load_run(shot.structured_content["run_dir"])
    assert [(step.kind, bool(step.executed), step.error.kind if step.error else None) for step in run.steps] == [
        ("do", False, "parse"),
        ("screenshot", False, None),
    ]


async def test_a_device_that_cannot_open_is_a_tool_error_with_its_hint(model, tmp_path):
    """No X display: the server starts (devices open on first use) and says what is wrong when one is used."""
    env = agent_env({key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")})
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, tmp_path / "runs", "--allow", "act"), env, log) as client:
            shot = await client.call_tool("screenshot", {})
            typed = await client.call_tool("type", {"text": "hello"})
    for result in (shot, typed):
        assert result.is_error
        assert texts_of(result).startswith("Error executing tool") and "device: " in texts_of(result)
    assert not (tmp_path / "runs").exists()
