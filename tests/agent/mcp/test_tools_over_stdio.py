"""``agent mcp`` over stdio, driven by the MCP SDK's own client, on a real Tk booking form in Xvfb.

The app's own state judges what was done; the recorded runs are then read by
the real consumers (``agent replay --check``, ``agent report``, the
``replay_check`` tool).
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from qwen_gui_agent.agent.records.run_files import load_run
from tests.agent.mcp.serving import (
    FRAME,
    PASSWORD,
    agent_args,
    grounding,
    in_frame,
    stdio_agent,
    texts_of,
)
from tests.support.cli import run_agent
from tests.support.e2e import ScriptedModel, booking_plan

pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.anyio]

TOOLS = {"devices", "screenshot", "query", "assert", "do", "tap", "type", "run_task", "replay_check"}


async def test_the_tools_and_their_schemas(env, model, tmp_path):
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, tmp_path / "runs"), env, log) as client:
            listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == TOOLS
    for tool in listed.values():
        assert tool.description, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
    assert listed["do"].input_schema["required"] == ["action"]
    assert set(listed["do"].input_schema["properties"]) == {"action", "frame", "device"}
    assert listed["tap"].input_schema["required"] == ["target"]
    assert listed["query"].input_schema["properties"]["schema"]["anyOf"][0]["type"] == "object"
    assert set(listed["run_task"].input_schema["properties"]) == {"goal", "task_file", "max_steps", "device"}
    assert set(listed["screenshot"].output_schema["required"]) >= {"width", "height", "run_dir", "step"}
    assert set(listed["run_task"].output_schema["required"]) >= {"status", "message", "steps", "run_dir"}
    assert listed["screenshot"].annotations.read_only_hint is True
    assert listed["do"].annotations.read_only_hint is False
    assert not (tmp_path / "runs").exists()  # listing records nothing


async def test_a_screenshot_is_an_image_at_the_models_frame(env, app, model, tmp_path):
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, tmp_path / "runs"), env, log) as client:
            result = await client.call_tool("screenshot", {})
    assert not result.is_error, texts_of(result)
    (image_block,) = [block for block in result.content if block.type == "image"]
    assert image_block.mime_type == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(image_block.data)))
    assert image.size == (FRAME.width, FRAME.height) == (1260, 784)
    shot = result.structured_content
    assert (shot["width"], shot["height"], shot["screen_width"], shot["screen_height"]) == (1260, 784, 1280, 800)
    run = load_run(shot["run_dir"])  # recorded: the step and the screenshot at the screen's own size
    assert run.info.status == "success" and [step.kind for step in run.steps] == ["screenshot"]
    assert Image.open(Path(shot["run_dir"]) / run.steps[0].screenshot).size == (1280, 800)
    assert model.requests == []  # a screenshot asks no model


async def test_run_task_fills_the_form_and_its_run_replays(env, app, model, tmp_path):
    # UI-TARS answers say their closing words (finished(content='booked')), which run_task hands back.
    scripted = ScriptedModel(app, "uitars", FRAME, booking_plan("Li Lei", "{{secret:BOOKING_PASSWORD}}", "Shanghai"))
    model.push(*[scripted] * 30)
    out = tmp_path / "runs"
    goal = "Book a flight to Shanghai for Li Lei; the password is {{secret:BOOKING_PASSWORD}}"
    progress: list[tuple[float, str]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message or ""))

    args = agent_args(
        model.base_url,
        out,
        "--allow",
        "act",
        "--secret",
        "BOOKING_PASSWORD",
        "--max-steps",
        "25",
        "--dialect",
        "uitars",
    )
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        async with stdio_agent(args, env, log) as client:
            result = await client.call_tool("run_task", {"goal": goal}, progress_callback=on_progress)
            assert not result.is_error, texts_of(result)
            task = result.structured_content
            checked = await client.call_tool("replay_check", {"run": task["run_dir"]})

    assert app.state()["booking"] == {"name": "Li Lei", "password": PASSWORD, "destination": "Shanghai"}
    assert task["status"] == "success" and task["message"] == "booked"
    run = load_run(task["run_dir"])
    assert run.info.status == "success" and run.info.task == goal and task["steps"] == len(run.steps) > 5
    assert [step.answer for step in run.steps] == scripted.answers
    # Progress: one notification per event worth telling, growing, naming each recorded step.
    values = [value for value, _ in progress]
    assert values == sorted(set(values)) and progress[0][1] == f"run started: {task['run_dir']}"
    assert sum(message.startswith("step ") for _, message in progress) == len(run.steps)

    assert not checked.is_error, texts_of(checked)
    assert checked.structured_content["passed"] is True
    assert checked.structured_content["checked"] == len(run.steps)
    replay = run_agent(["replay", task["run_dir"], "--check"], env=env, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert run_agent(["report", task["run_dir"]], env=env, timeout=300).returncode == 0

    # The secret was typed for real, and is nowhere else: not in a result, a record, a log line, or a prompt.
    assert PASSWORD not in json.dumps(task) + json.dumps(checked.structured_content)
    for path in out.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    assert PASSWORD not in log_path.read_text()
    assert all(PASSWORD.encode() not in request.raw for request in model.requests)


async def test_do_tap_and_type_act_and_each_call_is_a_recorded_step(env, app, model, tmp_path):
    model.push(
        grounding(app, "row:Chengdu"),  # tap: where the Chengdu row is
        '{"name": "Li Lei", "city": "Chengdu"}',  # query
        "yes: the form shows Li Lei and Chengdu",
    )  # assert
    out = tmp_path / "runs"
    name_x, name_y = in_frame(app.centre("name"))
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, out, "--allow", "act"), env, log) as client:
            clicked = await client.call_tool("do", {"action": f"click(start_box='({name_x},{name_y})')"})
            typed = await client.call_tool("type", {"text": "Li Lei"})
            tapped = await client.call_tool("tap", {"target": "the Chengdu row of the destination list"})
            read = await client.call_tool(
                "query",
                {
                    "question": "Which name and city does the form show?",
                    "schema": {
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "city": {"type": "string"}},
                        "required": ["name", "city"],
                    },
                },
            )
            judged = await client.call_tool("assert", {"statement": "the form shows Li Lei and Chengdu"})
            state = app.state()
    for result in (clicked, typed, tapped, read, judged):
        assert not result.is_error, texts_of(result)
    assert (state["name"], state["destination"]) == ("Li Lei", "Chengdu")
    assert clicked.structured_content["frame"] == f"{FRAME.width}x{FRAME.height}"
    name_centre = app.centre("name")
    assert clicked.structured_content["commands"] == [f"click x={name_centre[0]} y={name_centre[1]} button=left"]
    row_x, row_y = app.centre("row:Chengdu")
    tap = tapped.structured_content
    assert tap["label"] == "row:Chengdu" and abs(tap["screen_x"] - row_x) <= 2 and abs(tap["screen_y"] - row_y) <= 2
    assert read.structured_content["value"] == {"name": "Li Lei", "city": "Chengdu"}
    assert judged.structured_content["passed"] is True
    assert judged.structured_content["reason"] == "the form shows Li Lei and Chengdu"

    # One run holds the calls, in order; finished when the client left; today's code replays it.
    run_dirs = {result.structured_content["run_dir"] for result in (clicked, typed, tapped, read, judged)}
    (run_dir,) = run_dirs
    run = load_run(run_dir)
    assert [step.kind for step in run.steps] == ["do", "type", "tap", "query", "assert"]
    assert [result.structured_content["step"] for result in (clicked, typed, tapped, read, judged)] == [1, 2, 3, 4, 5]
    assert run.info.status == "success" and run.info.task == "mcp desktop"
    assert (Path(run_dir) / "report.html").is_file()  # written when the run was finished
    replay = run_agent(["replay", run_dir, "--check"], env=env, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "differ" not in replay.stdout


async def test_a_false_statement_is_a_verdict_and_a_failed_tap_is_a_tool_error(env, app, model, tmp_path):
    model.push("no - the Confirm button is still greyed out", "I cannot see any such button.")
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, tmp_path / "runs", "--allow", "act"), env, log) as client:
            judged = await client.call_tool("assert", {"statement": "the booking is confirmed"})
            tapped = await client.call_tool("tap", {"target": "the Pay button"})
            still = await client.call_tool("screenshot", {})
    assert not judged.is_error
    assert judged.structured_content["passed"] is False
    assert judged.structured_content["reason"] == "the Confirm button is still greyed out"
    assert tapped.is_error and "tap step" in texts_of(tapped)
    assert not still.is_error  # the server goes on
    assert app.state()["confirm_clicks"] == 0


async def test_run_task_runs_a_task_file_and_returns_what_its_queries_read(env, app, model, tmp_path):
    name_x, name_y = app.centre("name")
    task_file = tmp_path / "name.yaml"
    task_file.write_text(
        f"""
name: fill in the name
steps:
  - do: "click(start_box='({name_x},{name_y})')"
  - type: Han Meimei
  - query: Which name does the form show?
    save_as: name
  - query: Which destinations does the list offer?
    save_as: cities
    schema: [string]
""",
        encoding="utf-8",
    )
    model.push('"Han Meimei"', '```json\n["Beijing", "Shanghai"]\n```')
    out = tmp_path / "runs"
    with (tmp_path / "server.log").open("w") as log:
        async with stdio_agent(agent_args(model.base_url, out, "--allow", "act"), env, log) as client:
            result = await client.call_tool("run_task", {"task_file": str(task_file)})
            task = result.structured_content
            checked = await client.call_tool("replay_check", {"run": Path(task["run_dir"]).name})  # by its name
    assert not result.is_error, texts_of(result)
    assert (task["status"], task["task"], task["steps"]) == ("success", "fill in the name", 4)
    assert task["values"] == {"name": "Han Meimei", "cities": ["Beijing", "Shanghai"]}
    assert app.state()["name"] == "Han Meimei"
    assert load_run(task["run_dir"]).info.task_file == str(task_file)
    assert checked.structured_content["passed"] is True and checked.structured_content["checked"] == 4
