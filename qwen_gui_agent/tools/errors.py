"""The one error a model's answer can cause.

A malformed answer is the model's mistake, not ours: the agent sends the
message back to the model as an observation, so it must say what was wrong
and what form is expected, in words a model can act on.
"""

from __future__ import annotations


class ActionParseError(ValueError):
    """A model answer (or a user's action text) that is not a valid action."""

    def __init__(self, problem: str, *, expected: str = "", excerpt: str = "") -> None:
        self.problem = problem
        self.expected = expected
        self.excerpt = excerpt[:200]
        super().__init__(self.feedback())

    def feedback(self) -> str:
        """The message sent back to the model."""
        parts = [f"Your answer could not be used: {self.problem}."]
        if self.excerpt:
            parts.append(f"Near: {self.excerpt!r}.")
        if self.expected:
            parts.append(f"Expected: {self.expected}.")
        return " ".join(parts)

    def describe(self) -> str:
        """The same facts for a person at a console: no model-facing framing."""
        text = self.problem
        if self.excerpt:
            text += f" (near {self.excerpt!r})"
        if self.expected:
            text += f"; expected: {self.expected}"
        return text
