"""The goal loop: perceive, reason, act, record, until the model says it is done.

Each step: screenshot -> resize to the model's frame -> prompt with the goal
and the history -> model -> parse -> map to the input frame -> execute ->
record. The loop stops on ``finished`` (as the model says: success or
failure), on the step budget, on the run's time budget, when stuck (the same
action, or a loop of a few, on an unchanged screen ``stuck_after`` times in a row), after too many
unusable answers in a row, and on ``call_user`` without a terminal.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ...tools.actions import TERMINAL_ACTIONS, Answer, CallUser, Finished
from ...tools.canonical import format_action
from ...tools.dialects.base import HistoryStep, ParsedAnswer, PromptContext
from ...tools.errors import ActionParseError
from ...tools.frames import ModelFrame
from ...tools.messages import Message
from ..records.run_files import ErrorRecord
from .console import plural
from .context_fit import ask_within_context
from .drafts import Observation, StepDraft
from .history import History, StuckDetector, fingerprint
from .session import Session, StopRun, parse_failure

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoalResult:
    status: Literal["success", "failure"]
    message: str = ""


class GoalLoop:
    """Drives one ``ai`` goal on a session; ``run`` returns how the model ended it or raises StopRun."""

    def __init__(self, session: Session, goal: str, *, max_steps: int | None = None) -> None:
        self.session = session
        self.goal = goal
        self.limit = max_steps or session.settings.max_steps
        self.history = History(session.image_window)
        self.stuck = StuckDetector(session.settings.stuck_after)
        self.bad_answers = 0  # in a row

    def run(self) -> GoalResult:
        for number in range(1, self.limit + 1):
            self.session.check_time()
            with self.session.step("ai", limit=self.limit, goal_step=number) as draft:
                result = self._step(draft)
            if result is not None:
                return result
        raise StopRun("budget", f"the goal was not reached within {plural(self.limit, 'step')}")

    def _step(self, draft: StepDraft) -> GoalResult | None:
        session = self.session
        draft.goal = self.goal
        observation = session.observe(draft)
        context = PromptContext(
            task=self.goal, frame=observation.frame, device=session.device.kind, language=session.settings.language
        )

        def build(steps: Sequence[HistoryStep]) -> list[Message]:
            with draft.timed("prompt"):
                return session.dialect.build_messages(context, steps, observation.image)

        def trimmed(note: str) -> None:
            draft.note = note
            session.emit("feedback", kind="context", message=note)

        completion = ask_within_context(
            lambda messages: session.ask_model(draft, messages, wants_action=True),
            build,
            self.history,
            draft.serving,
            trimmed,
            session.settings.frame.factor,
        )
        frame = session.answer_frame(draft, observation, completion)
        session.phase(draft, "parse")
        try:
            with draft.timed("parse"):
                parsed = session.dialect.parse(completion.text, frame)
            draft.thought = parsed.thought
            session.show_thought(draft, parsed.thought)
            draft.actions = [format_action(action) for action in parsed.actions]
            return self._act(draft, observation, parsed, frame)
        except ActionParseError as error:
            self._bad_answer(draft, observation, error)
            return None

    def _act(
        self, draft: StepDraft, observation: Observation, parsed: ParsedAnswer, frame: ModelFrame
    ) -> GoalResult | None:
        session = self.session
        if not parsed.actions:
            raise ActionParseError("the answer holds no action", expected="exactly one action per answer")
        terminal = any(isinstance(action, TERMINAL_ACTIONS) for action in parsed.actions)
        for action in parsed.actions:  # all or nothing: the model is told "not used" only if nothing ran
            if not isinstance(action, TERMINAL_ACTIONS):
                session.preflight(action, frame, observation)
        if not terminal and self._repeats_on_unchanged_screen(draft, observation):
            raise StopRun("stuck", self.stuck.explain())
        feedback: list[str] = []
        for action in parsed.actions:
            match action:
                case Finished():
                    self._remember(draft, observation, feedback)
                    return GoalResult(status=action.status, message=action.message)
                case Answer():  # a question answered is a task done, with the answer as its message
                    self._remember(draft, observation, feedback)
                    return GoalResult(status="success", message=action.text)
                case CallUser():
                    feedback.append(f"The user answered: {self._ask_user(action.question)}")
                case _:
                    performed = session.perform(draft, action, frame, observation)
                    if performed.feedback:  # the person declined it at --confirm
                        draft.note = draft.note or f"declined by the user: {format_action(action)}"
                        feedback.append(performed.feedback)
                        break  # the rest of this answer assumed the declined action ran
        self.bad_answers = 0
        self._remember(draft, observation, feedback)
        session.settle()
        return None

    def _repeats_on_unchanged_screen(self, draft: StepDraft, observation: Observation) -> bool:
        # The stuck check's thumbnail is made here, not with every observation: only an acting answer needs it.
        with draft.timed("resize"):
            screen = fingerprint(observation.shot.image)
        return self.stuck.observe(screen, "; ".join(draft.actions))

    def _remember(self, draft: StepDraft, observation: Observation, feedback: list[str]) -> None:
        draft.feedback = "\n".join(feedback)
        answer = draft.completion.text if draft.completion else ""
        self.history.add(answer, action_text="; ".join(draft.actions), image=observation.image, feedback=draft.feedback)

    def _ask_user(self, question: str) -> str:
        session = self.session
        session.emit("question", question=question)
        if session.user is None or not session.user.interactive:
            raise StopRun("needs_user", question or "the model asked for the user's help")
        try:
            return session.user.ask(question or "The model asks for your help. What should it do?")
        except EOFError:  # the terminal closed before an answer came
            raise StopRun("needs_user", question or "the model asked for the user's help") from None

    def _bad_answer(self, draft: StepDraft, observation: Observation, error: ActionParseError) -> None:
        self.bad_answers += 1
        draft.error = ErrorRecord(kind="parse", message=error.feedback())
        # Shown for every bad answer, the last one too (that one ends the run instead of going back to the model).
        self.session.emit("feedback", kind="parse", message=error.feedback())
        if self.bad_answers > self.session.settings.max_parse_errors:
            raise parse_failure(f"{plural(self.bad_answers, 'unusable answer')} in a row; the last: {error.problem}")
        self._remember(draft, observation, [error.feedback()])


def run_goal(session: Session, goal: str, *, max_steps: int | None = None) -> GoalResult:
    return GoalLoop(session, goal, max_steps=max_steps).run()
