"""The tools that act: ``do`` (one literal action), ``tap`` (grounded by the model) and ``type`` (``--allow act``).

Each is one recorded step of the device's run, executed as ``agent run``
executes a task step: the action's points mapped from the frame they are
written in to the device's input frame by the one mapping function, secrets
put in only as the device types them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from ...tools.actions import TERMINAL_ACTIONS, Action, Click, Type
from ...tools.canonical import format_action, parse_action
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame, screenshot_frame
from ..records.run_files import ErrorRecord, StepRecord
from ..runtime.drafts import Observation
from ..runtime.secrets import placeholder, referenced_names
from ..runtime.session import Session, StopRun
from ..runtime.steps import do as do_step
from ..runtime.steps import tap as tap_step
from .calls import CallControl
from .recording import DeviceRun
from .results import ActResult, TapResult
from .tooling import ACTS, DeviceArg, allowed, finished, last_step
from .workbench import Workbench

FRAME_FORMS = (
    "'image' (pixels of the screenshot tool's image), 'screen' (the device's screenshot pixels), "
    "'relative' (0..1000 on both axes) or WxH (pixels of an image of that size)"
)


@dataclass(frozen=True)
class FrameChoice:
    """The frame a ``do`` action's points are written in, resolved against the screen when the step runs."""

    name: str  # image | screen | relative | WxH

    @classmethod
    def parse(cls, text: str) -> FrameChoice:
        name = text.strip().lower()
        if name in ("image", "screen", "relative"):
            return cls(name)
        width, sep, height = name.partition("x")
        if sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0:
            return cls(f"{int(width)}x{int(height)}")
        raise ToolError(f"frame {text!r} is not a frame; use {FRAME_FORMS}")

    def resolve(self, observation: Observation) -> ModelFrame | None:
        """The frame now (None: screenshot pixels, as the device's own mapping takes them)."""
        image = observation.frame
        match self.name:
            case "screen":
                return None
            case "image":
                return ModelFrame(width=image.width, height=image.height)
            case "relative":
                return ModelFrame(width=image.width, height=image.height, relative=True)
            case _:
                width, _, height = self.name.partition("x")
                return ModelFrame(width=int(width), height=int(height))


def register(server: MCPServer, bench: Workbench) -> None:
    @server.tool(name="do", annotations=ACTS)
    async def do(
        action: Annotated[
            str,
            Field(
                min_length=1,
                description=(
                    "One action in canonical text, e.g. click(start_box='(120,40)'), double_click(start_box='(x,y)'), "
                    "right_click(...), type(content='hello\\n'), hotkey(key='ctrl a'), scroll(start_box='(x,y)', "
                    "direction='down'), drag(start_box='(x1,y1)', end_box='(x2,y2)'), long_press(start_box='(x,y)'), "
                    "press_back(), press_home(), open_app(app_name='Settings'), wait()."
                ),
            ),
        ],
        frame: Annotated[str, Field(description=f"What the action's points are in: {FRAME_FORMS}.")] = "image",
        device: DeviceArg = None,
    ) -> ActResult:
        """Run one action on the device, its points in pixels of the screenshot image by default."""
        spec = allowed(bench, "do", "act", device)
        parsed = _literal_action(action)
        choice = FrameChoice.parse(frame)
        _check_secrets(bench, parsed)

        def work(run: DeviceRun, session: Session) -> ActResult:
            first = session.steps_recorded + 1
            with session.step("do") as draft:
                observation = session.observe(draft)
                written = choice.resolve(observation)
                draft.action_frame = written or screenshot_frame(observation.shot.geometry)
                draft.actions = [format_action(parsed)]
                try:
                    session.perform(draft, parsed, written, observation)
                except ActionParseError as error:  # a point off the screen, an action this device lacks
                    raise StopRun(
                        "failure", f"do: {error.problem}", error=ErrorRecord(kind="parse", message=str(error))
                    ) from None
            session.settle()
            record = last_step(run, first)
            return _act_result(spec, run, record, choice.name if choice.name != "image" else _size(record))

        return finished(await bench.on_device_run(spec, work, CallControl(), what="do"))

    @server.tool(name="tap", annotations=ACTS)
    async def tap(
        target: Annotated[str, Field(min_length=1, description="The element to tap, in words: 'the Save button'.")],
        device: DeviceArg = None,
    ) -> TapResult:
        """Ask the agent's model where the element is (one grounding question), then tap (click) its centre."""
        spec = allowed(bench, "tap", "act", device)

        def work(run: DeviceRun, session: Session) -> TapResult:
            first = session.steps_recorded + 1
            tap_step(session, target)
            record = last_step(run, first)
            return _tap_result(spec, run, record)

        return finished(await bench.on_device_run(spec, work, CallControl(), what="tap"))

    @server.tool(name="type", annotations=ACTS)
    async def type_text(
        text: Annotated[
            str,
            Field(
                min_length=1,
                description=(
                    "The text to type into what has the focus; {{secret:NAME}} types a secret declared with --secret."
                ),
            ),
        ],
        submit: Annotated[bool, Field(description="Press Enter after the text.")] = False,
        device: DeviceArg = None,
    ) -> ActResult:
        """Type text into what has the focus (any Unicode), optionally pressing Enter after it."""
        spec = allowed(bench, "type", "act", device)
        action = Type(text=text, submit=submit)
        _check_secrets(bench, action)

        def work(run: DeviceRun, session: Session) -> ActResult:
            first = session.steps_recorded + 1
            do_step(session, action, None, kind="type")
            return _act_result(spec, run, last_step(run, first), "screen")

        return finished(await bench.on_device_run(spec, work, CallControl(), what="type"))


def _literal_action(text: str) -> Action:
    try:
        action = parse_action(text)
    except ActionParseError as error:
        raise ToolError(f"bad action: {error.describe()}") from None
    if isinstance(action, TERMINAL_ACTIONS):
        raise ToolError(f"{action.action} ends a run of the agent; it is not something a device can do")
    return action


def _check_secrets(bench: Workbench, action: Action) -> None:
    """A placeholder of a secret the server was not given is the caller's mistake, said before anything runs."""
    if not isinstance(action, Type):
        return
    unknown = [name for name in referenced_names([action.text]) if name not in bench.secrets.values]
    if unknown:
        raise ToolError(
            f"unknown secret(s) {', '.join(placeholder(name) for name in unknown)}: start agent mcp "
            f"with {' '.join(f'--secret {name}' for name in unknown)} (the value comes from the "
            "environment variable of that name)"
        )


def _size(record: StepRecord) -> str:
    return f"{record.frame.width}x{record.frame.height}" if record.frame else "screen"


def _act_result(spec: str, run: DeviceRun, record: StepRecord, frame: str) -> ActResult:
    return ActResult(
        device=spec,
        run_dir=str(run.directory),
        step=record.index,
        action=record.actions[0] if record.actions else "",
        frame=frame,
        executed=[executed.action for executed in record.executed],
        commands=[command for executed in record.executed for command in executed.commands],
    )


def _tap_result(spec: str, run: DeviceRun, record: StepRecord) -> TapResult:
    """Where the tap landed, from the record: the model's point in its frame, then in the image and the screen."""
    point = parse_action(record.actions[0])
    if not isinstance(point, Click) or record.frame is None or record.geometry is None:
        raise ToolError("the tap's step holds no click in a known frame")
    frame = ModelFrame(**record.frame.model_dump())
    extent_x, extent_y = frame.extent
    return TapResult(
        device=spec,
        run_dir=str(run.directory),
        step=record.index,
        label=record.thought,
        x=round(point.point.x * frame.width / extent_x),
        y=round(point.point.y * frame.height / extent_y),
        screen_x=round(point.point.x * record.geometry.width / extent_x),
        screen_y=round(point.point.y * record.geometry.height / extent_y),
        commands=[command for executed in record.executed for command in executed.commands],
    )
