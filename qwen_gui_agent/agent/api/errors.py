"""What the Python API raises when a call does not do what it was asked.

Split by cause, as everywhere in the agent: what the model judged or answered
(an assertion it says is false, a query answer that never fits the schema, a
goal it gave up on) raises one of these, each naming the run directory that
holds the recorded steps. A device or a model server that fails raises the
driver's ``DeviceError`` or the backend's ``BackendError`` unchanged (they
carry a hint).
"""

from __future__ import annotations

from pathlib import Path


class AgentError(Exception):
    """A call of the agent failed; ``status`` is how the run records it (failure, stuck, budget, needs_user)."""

    def __init__(self, message: str, *, status: str = "failure", run_dir: Path | None = None) -> None:
        self.message = message
        self.status = status
        self.run_dir = run_dir
        where = f" (recorded in {run_dir})" if run_dir else ""
        super().__init__(message + where)


class StepFailed(AgentError):
    """A step could not be done: the model gave up on a goal, ran out of steps, got stuck, or needs a person."""


class ScreenAssertionError(AgentError, AssertionError):
    """The model judged a statement about the screen to be false; ``reason`` is the evidence it gave.

    An ``AssertionError``, so pytest reports it as a failed assertion.
    """

    def __init__(self, statement: str, reason: str, *, message: str = "", run_dir: Path | None = None) -> None:
        self.statement = statement
        self.reason = reason
        super().__init__(
            message or f"the model says this is false: {statement} ({reason or 'no reason given'})", run_dir=run_dir
        )


class WaitTimeoutError(ScreenAssertionError):
    """``wait_for`` gave up: the statement was still false at its timeout; ``reason`` is the model's last word."""

    def __init__(self, statement: str, reason: str, *, timeout_s: float, run_dir: Path | None = None) -> None:
        self.timeout_s = timeout_s
        message = (
            f"waited {timeout_s:g} s and the model still says this is false: {statement} "
            f"({reason or 'no reason given'})"
        )
        super().__init__(statement, reason, message=message, run_dir=run_dir)


class QueryError(AgentError):
    """No answer to a query fitted its schema, after the answers were fed back; ``answer`` is the model's last."""

    def __init__(self, question: str, problem: str, answer: str, *, run_dir: Path | None = None) -> None:
        self.question = question
        self.problem = problem
        self.answer = answer
        super().__init__(
            f"no valid answer to {question!r}: {problem}; the model's last answer: {answer!r}", run_dir=run_dir
        )


class AgentClosed(RuntimeError):
    """A call after the agent was closed (its run is finished and recorded)."""
