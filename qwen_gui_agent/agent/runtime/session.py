"""One run's shared parts: device, model, dialect, recorder, budget, secrets, console.

The goal loop (``agent.runtime.loop``) and the task-step runner (``agent.runtime.steps``) both
work through a ``Session``: it takes screenshots in the model's frame, asks the
model, performs actions (mapping, secrets, confirmation, dry run), and records
every step, redacted, whatever way the step ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from ...devices.base import Device
from ...devices.errors import DeviceError
from ...tools.actions import Action, Type
from ...tools.canonical import format_action, parse_action
from ...tools.dialects.base import Dialect
from ...tools.errors import ActionParseError
from ...tools.frames import FrameBounds, ModelFrame, check_action, map_action, resize_to_frame
from ...tools.messages import Message
from ..backends.base import BackendError, Completion, ModelBackend
from ..records.run_files import ErrorRecord, ExecutedRecord, RunWriteError, RunWriter, StepRecord
from .answers import DEFAULT_MAX_ANSWER_CHARS, capped_answer
from .console import EventSink, UserChannel
from .context_fit import record_backend_facts
from .drafts import Observation, Performed, StepDraft
from .secrets import Secrets

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopSettings:
    """How a run is bounded and how it behaves; the CLI fills it (flags, then task file, then defaults)."""

    max_steps: int = 30  # model steps per `ai` goal
    timeout_s: float | None = None  # wall time for the whole run
    image_history: int | None = None  # screenshots in the prompt, current included; None = dialect default
    stuck_after: int = 3  # same action on an unchanged screen this many times in a row ends the run
    max_parse_errors: int = 3  # bad answers fed back in a row before the run ends
    # What screenshots are resized to: the model's bounds (the CLI and the Python API pass the backend
    # settings' own, which come from the model's family); the default is Qwen2.5-VL's preprocessor's.
    frame: FrameBounds = FrameBounds()
    max_new_tokens: int | None = None
    dry_run: bool = False
    confirm: bool = False
    settle_s: float = 0.5  # pause after acting so the screen can redraw before the next capture
    language: str = "English"
    max_answer_chars: int = DEFAULT_MAX_ANSWER_CHARS  # longer answers are cut there, recorded and sent back cut


class StopRun(Exception):
    """Ends the run with a status (``failure``, ``stuck``, ``budget``, ``needs_user``, ``interrupted``)."""

    def __init__(self, status: str, message: str = "", *, error: ErrorRecord | None = None) -> None:
        self.status = status
        self.message = message
        self.error = error
        super().__init__(f"{status}: {message}")


# An outside judge of the run (a benchmark's environment, which knows when its task is over): asked
# before each step and after each action settles; a StopRun it returns ends the run with that status.
EndCheck = Callable[[], "StopRun | None"]


class Session:
    def __init__(
        self,
        *,
        device: Device,
        backend: ModelBackend,
        dialect: Dialect,
        writer: RunWriter,
        settings: LoopSettings,
        events: EventSink,
        user: UserChannel | None = None,
        secrets: Secrets | None = None,
        clock: Callable[[], float] = time.monotonic,
        end_check: EndCheck | None = None,
    ) -> None:
        self.device = device
        self.backend = backend
        self.dialect = dialect
        self.writer = writer
        self.settings = settings
        self.events = events
        self.user = user
        self.secrets = secrets if secrets is not None else Secrets()
        self.clock = clock
        self.deadline = clock() + settings.timeout_s if settings.timeout_s else None
        self.steps_recorded = 0
        self.end_check = end_check

    # ------------------------------------------------------------------ budget and events

    @property
    def image_window(self) -> int:
        return self.settings.image_history or self.dialect.info.default_image_history

    def check_time(self) -> None:
        """Before a step: end the run when its time budget ran out, or when the outside judge says it is over."""
        if self.deadline is not None and self.clock() >= self.deadline:
            raise StopRun("budget", f"the time budget of {self.settings.timeout_s:g} s ran out")
        self._check_end()

    def _check_end(self) -> None:
        if self.end_check is not None and (stop := self.end_check()) is not None:
            raise stop

    def emit(self, event: str, **data: Any) -> None:
        self.events.emit(event, self.secrets.redact_free_text(data))

    # ------------------------------------------------------------------ steps

    def phase(self, draft: StepDraft, name: str) -> None:
        """Tell the console what the step is doing now: screenshot, model, parse, act (or confirm)."""
        self.emit("phase", index=draft.index, phase=name)

    def show_thought(self, draft: StepDraft, thought: str) -> None:
        """The model's reasoning, shown as soon as its answer is parsed (before the step acts)."""
        if thought:
            self.emit("thought", index=draft.index, thought=thought)

    @contextmanager
    def step(self, kind: str, *, limit: int | None = None, goal_step: int | None = None) -> Iterator[StepDraft]:
        """A recorded step: whatever happens inside, the record is written before leaving."""
        draft = StepDraft(index=self.steps_recorded + 1, kind=kind, limit=limit, goal_step=goal_step)
        self.emit("step_started", index=draft.index, kind=kind, goal_step=goal_step, max_steps=limit)
        started = time.perf_counter()
        try:
            yield draft
        except DeviceError as error:
            draft.error = ErrorRecord(kind="device", message=str(error))
            raise
        except BackendError as error:
            draft.error = ErrorRecord(kind="backend", message=str(error))
            raise
        except StopRun as stop:
            draft.error = draft.error or stop.error
            draft.note = draft.note or f"{stop.status}: {stop.message}"
            raise
        except KeyboardInterrupt:
            draft.note = draft.note or "interrupted"
            raise
        except RunWriteError as error:  # the run's folder cannot be written: the record says so, if it still can
            draft.error = ErrorRecord(kind="storage", message=str(error))
            raise
        except Exception as error:  # a bug of ours: record it on the step it broke, then let the runner end the run
            draft.error = ErrorRecord(kind="internal", message=f"{type(error).__name__}: {error}")
            raise
        finally:
            draft.timings_ms["total"] = round((time.perf_counter() - started) * 1000, 2)
            self._record(draft)

    def _record(self, draft: StepDraft) -> None:
        record = draft.to_record()
        if self.secrets:
            record = StepRecord.model_validate(self.secrets.redact_free_text(record.model_dump()))
        self.writer.append(record)
        self.steps_recorded = record.index
        commands = [command for executed in record.executed for command in executed.commands]
        self.emit(
            "step",
            index=record.index,
            kind=record.kind,
            goal_step=draft.goal_step,
            max_steps=draft.limit,
            actions=record.actions,
            thought=record.thought,
            commands=commands,
            dry_run=any(executed.dry_run for executed in record.executed),
            timings_ms=record.timings_ms,
            error=record.error.model_dump() if record.error else None,
            note=record.note,
        )

    def observe(self, draft: StepDraft) -> Observation:
        """Capture the screen, size it to the model's frame, and save it with the step."""
        self.phase(draft, "screenshot")
        with draft.timed("capture"):
            shot = self.device.screenshot()
        with draft.timed("resize"):
            frame = ModelFrame.for_screen(
                shot.geometry.width,
                shot.geometry.height,
                self.settings.frame,
                relative=self.dialect.relative,
                relative_scale=self.dialect.relative_scale,
            )
            observation = Observation(shot=shot, frame=frame, image=resize_to_frame(shot.image, frame))
        with draft.timed("save"):
            draft.screenshot = self.writer.save_image(draft.index, shot.image)
        draft.observation = observation
        return observation

    def ask_model(self, draft: StepDraft, messages: Sequence[Message], *, wants_action: bool = False) -> Completion:
        self.phase(draft, "model")
        with draft.timed("model"):
            completion = self.backend.complete(
                messages, max_new_tokens=self.settings.max_new_tokens, wants_action=wants_action
            )
        # The answer as everything downstream sees it (parser, history, record, console, the next prompt):
        # a secret the model read off the screen replaced by its placeholder, a runaway answer cut short.
        text = capped_answer(self.secrets.redact_answer(completion.text), self.settings.max_answer_chars)
        if text != completion.text:
            completion = replace(completion, text=text)
        draft.completion = completion
        record_backend_facts(draft.timings_ms, draft.serving, completion)
        return completion

    def answer_frame(self, draft: StepDraft, observation: Observation, completion: Completion) -> ModelFrame:
        """The frame the answer's points are in: ours, unless the backend says it saw another size."""
        frame = observation.frame
        seen = completion.seen_frame
        if seen is None or frame.relative or seen == (frame.width, frame.height):
            return frame
        # The backend resized our image again (it should not): trust what the model really saw.
        log.warning(
            "the model saw %dx%d, not the %s frame we sent; reading its points in what it saw", seen[0], seen[1], frame
        )
        draft.action_frame = ModelFrame(width=seen[0], height=seen[1])
        draft.note = f"the model saw {seen[0]}x{seen[1]}, not {frame}"
        return draft.action_frame

    # ------------------------------------------------------------------ actions

    def preflight(self, action: Action, frame: ModelFrame | None, observation: Observation) -> None:
        """Raise ActionParseError now for what the model can fix, before any action of its answer runs."""
        if isinstance(action, Type):
            self.secrets.check(action.text)
        self.device.plan(map_action(action, frame, observation.shot.geometry))

    def perform(
        self, draft: StepDraft, action: Action, frame: ModelFrame | None, observation: Observation
    ) -> Performed:
        """Run one action given in ``frame`` (None: screenshot pixels) through confirm, mapping and secrets.

        Raises ActionParseError for what the model can fix (unknown secret, an
        action this device lacks, a point off the screen).
        """
        if self.settings.confirm:
            self.phase(draft, "confirm")
            chosen, declined = self._confirm(action, frame)
            if declined:
                return Performed(None, feedback=f"The user declined {format_action(action)}; choose another action.")
            if chosen is not action:
                _record_edit(draft, action, chosen)
            action = chosen
        self.phase(draft, "act")
        if isinstance(action, Type):
            self.secrets.check(action.text)
        mapped = map_action(action, frame, observation.shot.geometry)
        text = format_action(mapped)
        with draft.timed("execute"):
            resolved = self.secrets.resolve_action(mapped)
            if self.settings.dry_run:
                commands = self.device.plan(mapped)  # placeholders stay unresolved in a plan
            elif resolved is mapped:
                commands = self.device.execute(mapped).commands
            else:
                commands = self._execute_secret(mapped, resolved)
        executed = ExecutedRecord(action=text, commands=list(commands), dry_run=self.settings.dry_run)
        draft.executed.append(executed)
        return Performed(executed)

    def _execute_secret(self, mapped: Action, resolved: Action) -> tuple[str, ...]:
        """Type a secret; record the commands of its placeholder, never the driver's text.

        Drivers escape or encode what they type (``input text`` escapes, base64
        for the Android IME, quoted pyautogui text), so redacting the plain value
        from their commands is not enough: what is recorded is the plan of the
        placeholder action, which is also what replay recomputes.
        """
        try:
            self.device.execute(resolved)
        except DeviceError as error:
            # The driver's message may quote the command, and so the secret in some encoding.
            raise type(error)(f"typing a secret failed ({type(error).__name__})", hint=error.hint) from None
        return self.device.plan(mapped)

    def _confirm(self, action: Action, frame: ModelFrame | None) -> tuple[Action, bool]:
        if self.user is None or not self.user.interactive:
            raise StopRun(
                "error", "--confirm needs a terminal to ask at", error=ErrorRecord(kind="user", message="no terminal")
            )
        while True:
            try:
                answer = self.user.confirm(format_action(action))
            except EOFError:
                raise StopRun("interrupted", "the terminal closed at a confirmation") from None
            match answer.decision:
                case "yes":
                    return action, False
                case "no":
                    return action, True
                case "quit":
                    raise StopRun("interrupted", "stopped by the user at a confirmation")
                case "edit":
                    try:
                        edited = parse_action(answer.edited)
                        if frame is not None:
                            check_action(edited, frame)
                        return edited, False
                    except ActionParseError as error:
                        self.emit("feedback", kind="edit", message=error.feedback())

    def settle(self) -> None:
        """After acting: give the screen time to redraw, then ask the outside judge whether the run is over."""
        if self.settings.settle_s > 0 and not self.settings.dry_run:
            time.sleep(self.settings.settle_s)
        self._check_end()


def _record_edit(draft: StepDraft, proposed: Action, edited: Action) -> None:
    """The step records what ran: the edited action takes the proposed one's place, and the note says so."""
    proposed_text, edited_text = format_action(proposed), format_action(edited)
    if proposed_text in draft.actions:
        draft.actions[draft.actions.index(proposed_text)] = edited_text
    else:
        draft.actions.append(edited_text)
    edit = f"edited by the user: {proposed_text} -> {edited_text}"
    draft.note = f"{draft.note}; {edit}" if draft.note else edit


def parse_failure(message: str) -> StopRun:
    return StopRun("failure", message, error=ErrorRecord(kind="parse", message=message))
