"""Secrets in tasks: ``{{secret:NAME}}`` placeholders, resolved only at execution.

The model, the console, the log and the recorded run only ever see the
placeholder, also where the model writes a value it read on the screen: its
answer is redacted as it arrives. Its value is put into a ``type`` action at the last moment, right
before the device gets it, and every text that leaves the agent afterwards
(driver commands, error messages, events) goes through ``redact``.

The CLI reads the values from the environment and hands a ``Secrets`` object
(frozen) to the loop; nothing here reads the environment.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ...tools.actions import Action, Type
from ...tools.errors import ActionParseError
from .secret_forms import secret_forms

PLACEHOLDER = re.compile(r"\{\{\s*secret:([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholder(name: str) -> str:
    return "{{secret:" + name + "}}"


def _literally(replacement: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement that inserts ``replacement`` as it is (backslashes in a string would be read)."""
    return lambda _match: replacement


def referenced_names(texts: Iterable[str]) -> tuple[str, ...]:
    """Every secret name the texts refer to, in first-seen order."""
    seen: dict[str, None] = {}
    for text in texts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(1), None)
    return tuple(seen)


class MissingSecret(KeyError):
    """A secret the task needs has no value (bad input, found before the run starts)."""

    def __init__(self, names: Iterable[str], *, hint: str = "") -> None:
        self.names = tuple(names)
        self.hint = hint
        super().__init__(f"no value for secret(s) {', '.join(self.names)}. {hint}".strip())

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Secrets:
    """Named secret values; ``repr`` never shows them."""

    values: Mapping[str, str] = field(default_factory=dict, repr=False)
    # (spelling, name) of every form of every value, longest first (see secret_forms).
    _spellings: tuple[tuple[str, str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen all the way down: the loop cannot change what it was given.
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))
        spellings = {(form, name) for name, value in self.values.items() for form in secret_forms(value)}
        # Longest first, so a value that contains another one (or its own shorter form) is replaced whole.
        object.__setattr__(self, "_spellings", tuple(sorted(spellings, key=lambda item: (-len(item[0]), item))))

    @classmethod
    def from_environment(cls, names: Iterable[str], environ: Mapping[str, str]) -> Secrets:
        names = tuple(dict.fromkeys(names))
        missing = [name for name in names if not environ.get(name)]
        if missing:
            raise MissingSecret(missing, hint="set each as an environment variable of the same name")
        return cls({name: environ[name] for name in names})

    def __bool__(self) -> bool:
        return bool(self.values)

    def check(self, text: str) -> None:
        """Raise ActionParseError if ``text`` names a secret we do not hold."""
        unknown = [name for name in referenced_names([text]) if name not in self.values]
        if unknown:
            known = ", ".join(placeholder(name) for name in self.values) or "none"
            raise ActionParseError(
                f"unknown secret {', '.join(unknown)}", expected=f"one of the secrets of this task: {known}"
            )

    def resolve(self, text: str) -> str:
        """``text`` with every placeholder replaced by its value."""
        self.check(text)
        return PLACEHOLDER.sub(lambda match: self.values[match.group(1)], text)

    def resolve_action(self, action: Action) -> Action:
        """The action as the device must get it (only ``type`` text carries secrets)."""
        match action:
            case Type() if PLACEHOLDER.search(action.text):
                return action.model_copy(update={"text": self.resolve(action.text)})
            case _:
                return action

    def redact(self, text: str) -> str:
        """``text`` with every secret value, in every spelling (shell-quoted, ``%s``, base64 ...), replaced by
        its placeholder."""
        for spelling, name in self._spellings:
            if spelling in text:
                text = text.replace(spelling, placeholder(name))
        return text

    def redact_answer(self, text: str) -> str:
        """A model's answer with every secret it repeats (read off the screen, say) replaced by its placeholder.

        A spelling shorter than ``SHORT_SPELLING`` is replaced only as a whole word: a one-letter value
        sits inside every action name, and replacing it there would break the answer and show the value
        (``st{{secret:PW}}rt_box``). Longer ones are replaced wherever they stand.
        """
        for spelling, name in self._spellings:
            if spelling not in text:
                continue
            if len(spelling) >= SHORT_SPELLING:
                text = text.replace(spelling, placeholder(name))
            else:
                whole_word = rf"(?<![A-Za-z0-9_]){re.escape(spelling)}(?![A-Za-z0-9_])"
                text = re.sub(whole_word, _literally(placeholder(name)), text)
        return text

    def redact_data(self, data: object) -> object:
        """A JSON-like structure with every string redacted."""
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {key: self.redact_data(value) for key, value in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.redact_data(value) for value in data]
        return data

    def redact_free_text(self, data: Mapping[str, object]) -> dict[str, object]:
        """``data`` with only its human-readable messages redacted (keys in FREE_TEXT_KEYS).

        Structured fields (kinds, actions, commands) are left alone: the secret
        never enters them (typing records the placeholder's plan), and replacing
        a short value everywhere would corrupt them and reveal the value
        ("button={{secret:PW}}" says PW is "left").
        """
        return {key: self._redact_field(key, value) for key, value in data.items()}

    def _redact_field(self, key: str, value: object) -> object:
        if isinstance(value, Mapping):  # a nested record, e.g. a step's error {kind, message}
            return self.redact_free_text(value)
        return self.redact_data(value) if key in FREE_TEXT_KEYS else value


SHORT_SPELLING = 6

# Where a secret's value can appear: messages built from driver or library errors, and what a person typed.
FREE_TEXT_KEYS = frozenset({"message", "note", "feedback"})


class RedactingFilter(logging.Filter):
    """A logging filter that takes secret values out of every record it passes."""

    def __init__(self, secrets: Secrets) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self.secrets.redact(record.getMessage())
        record.args = None
        # A traceback may quote a value too: format it now, redacted (formatters reuse exc_text).
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.secrets.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.secrets.redact(record.stack_info)
        return True
