"""``run_task`` (a goal or a task file, as ``agent run`` runs it) and ``replay_check`` (a recorded run offline).

A task is a run of its own, in its own directory, with the same steps, stop
rules and record as ``agent run``; its progress goes to the client as MCP
progress notifications, one per event worth telling (the run started, a task
step began, a step was recorded). Cancelling the call, or a client that goes
away, stops the run at its next step and records it as ``interrupted``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ...devices.base import Device
from ...tasks.loader import TaskFileError, load_task
from ...tasks.schema import QueryStep, Task
from ..records.run_files import RunLoadError, load_run
from ..replay.check import check_run
from ..replay.planners import ReplayError
from ..runtime.runner import execute_run
from ..runtime.secrets import referenced_names
from .calls import CallControl, CallEvents, Progress
from .policy import Refused
from .recording import read_steps
from .results import ReplayCheckResult, ReplayStep, TaskResult
from .tooling import ACTS, READS, DeviceArg, allowed, finished, refusal
from .workbench import Workbench


def register(server: MCPServer, bench: Workbench) -> None:
    @server.tool(name="run_task", annotations=ACTS)
    async def run_task(
        ctx: Context,
        goal: Annotated[
            str | None,
            Field(
                description="A goal in words for the agent's model to pursue step by step, "
                "e.g. 'turn on dark mode in the settings'."
            ),
        ] = None,
        task_file: Annotated[
            str | None,
            Field(
                description="Or: a task YAML file on the server's machine (its "
                "steps, as `agent run TASK.yaml` runs them)."
            ),
        ] = None,
        max_steps: Annotated[
            int | None,
            Field(ge=1, description="Model steps per goal (default: the task file's, else the server's --max-steps)."),
        ] = None,
        device: DeviceArg = None,
    ) -> TaskResult:
        """Run a goal or a task file to its end, recorded as a run of its own: the status, the model's closing
        answer, what the task's query steps read, and the run directory. Sends progress while it runs;
        cancel the call to stop it (the run is then recorded as interrupted)."""
        task, task_file_name = _task(bench, goal, task_file)
        if device is None and task.device is not None:
            device = _task_device(bench, task.device.spec())
        spec = allowed(bench, "run_task", "act", device)
        _check_secrets(bench, task)
        loop = bench.settings.loop
        settings = replace(
            loop, max_steps=max_steps or task.max_steps or loop.max_steps, timeout_s=task.timeout or loop.timeout_s
        )
        control = CallControl(progress=_progress_sender(bench, ctx))

        def work(opened: Device) -> TaskResult:
            result = execute_run(bench.run_parts(opened, task, task_file_name, settings, CallEvents(control)))
            return TaskResult(
                task=bench.secrets.redact(task.title()),
                status=cast(Any, result.status),
                message=result.message,
                steps=result.steps,
                run_dir=str(result.run_dir),
                values=_query_values(task, result.run_dir),
                device=spec,
            )

        return finished(await bench.on_device(spec, work, control, what="run_task"))

    @server.tool(name="replay_check", annotations=READS)
    async def replay_check(
        run: Annotated[
            str,
            Field(
                min_length=1,
                description="A run directory under the server's --out folder: "
                "a path, or its name as run_task, screenshot ... return it.",
            ),
        ],
    ) -> ReplayCheckResult:
        """Replay a recorded run offline through today's prompt, parser, frame mapping and device planner:
        does each recorded answer still give the recorded device commands? (agent replay RUN --check)"""
        directory = _run_directory(bench, run)
        return finished(await bench.off_device(lambda: _check(directory), what="replay_check"))


def _task(bench: Workbench, goal: str | None, task_file: str | None) -> tuple[Task, str | None]:
    if (goal is None or not goal.strip()) == (task_file is None or not task_file.strip()):
        raise ToolError("give either goal (words) or task_file (a task YAML file), not both or neither")
    if goal is not None and goal.strip():
        return Task.from_goal(goal.strip()), None
    assert task_file is not None
    try:
        return load_task(Path(task_file.strip()), bench.settings.environ), task_file.strip()
    except TaskFileError as error:
        raise ToolError(f"bad task file: {error}") from None


def _task_device(bench: Workbench, spec: str) -> str:
    if spec in bench.policy.devices:
        return spec
    raise ToolError(
        f"the task file names the device {spec}, which this server does not serve (it serves "
        f"{', '.join(bench.policy.devices)}); pass device to run it on one of those, or start agent mcp "
        f"with --device {spec}"
    )


def _check_secrets(bench: Workbench, task: Task) -> None:
    needed = dict.fromkeys([*task.secrets, *referenced_names(task.texts())])
    missing = [name for name in needed if name not in bench.secrets.values]
    if missing:
        raise ToolError(
            f"the task needs the secret(s) {', '.join(missing)}: start agent mcp with "
            f"{' '.join(f'--secret {name}' for name in missing)} (each value comes from the environment "
            "variable of that name)"
        )


def _progress_sender(bench: Workbench, ctx: Context) -> Progress:
    """The run's events as progress notifications, sent from the worker thread through the event loop."""
    sent = 0

    def send(event: str, data: dict[str, Any]) -> None:
        nonlocal sent
        message = _progress_message(event, data)
        if message is None:
            return
        sent += 1  # progress must grow with every notification; the message says what happened
        anyio.from_thread.run(ctx.report_progress, sent, None, bench.secrets.redact(message))

    return send


def _progress_message(event: str, data: dict[str, Any]) -> str | None:
    match event:
        case "run_started":
            return f"run started: {data.get('run_dir')}"
        case "task_step":
            return f"task step {data.get('number')}: {data.get('kind')} {data.get('text')}"
        case "step":
            what = "; ".join(data.get("actions") or []) or data.get("note") or ""
            error = data.get("error") or {}
            failed = f" ({error.get('kind')} error: {error.get('message')})" if error else ""
            return f"step {data.get('index')} ({data.get('kind')}): {what}{failed}".rstrip(": ")
        case "verdict":
            return f"{'yes' if data.get('passed') else 'no'}: {data.get('statement')}"
    return None


def _query_values(task: Task, run_dir: Path) -> dict[str, Any]:
    """What the task's query steps saved, read back from the record (the nth query step is the nth query record)."""
    queries = [step for step in task.steps if isinstance(step, QueryStep)]
    if not queries:
        return {}
    recorded = [record for record in read_steps(run_dir, 1) if record.kind == "query"]
    return {step.save_as: record.value for step, record in zip(queries, recorded, strict=False) if record.error is None}


def _run_directory(bench: Workbench, run: str) -> Path:
    """The run directory ``run`` names (a path, or a name inside --out); only runs inside --out are read."""
    out = bench.settings.out_dir.resolve()
    given = Path(run.strip()).expanduser()
    candidates = [given] if given.is_absolute() else [out / given, given]
    inside = [path.resolve() for path in candidates if path.resolve().is_relative_to(out)]
    if not inside:
        raise refusal(
            Refused(
                f"refused: {run} is outside this server's runs folder {out}; start agent mcp with "
                "--out naming the folder that holds it"
            )
        )
    return next((path for path in inside if path.is_dir()), inside[0])


def _check(directory: Path) -> ReplayCheckResult:
    try:
        recorded = load_run(directory)
        result = check_run(recorded)
    except (RunLoadError, ReplayError) as error:
        raise ToolError(f"cannot replay {directory}: {error}") from None
    steps = [
        ReplayStep(
            index=check.index,
            kind=check.kind,
            summary=check.summary,
            passed=check.passed,
            problems=list(check.problems),
            skipped=check.skipped,
        )
        for check in result.checks
    ]
    return ReplayCheckResult(
        run_dir=str(directory),
        passed=result.ok,
        status=recorded.info.status,
        checked=len(steps),
        failed=len(result.failures),
        steps=steps,
    )
