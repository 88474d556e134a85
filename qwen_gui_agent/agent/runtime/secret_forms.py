"""Every way a secret's value can be spelled in a text that leaves the agent.

Drivers do not pass text through as it is: Android's ``input text`` gets
spaces as ``%s`` inside a shell-quoted word (``'it'"'"'s'``), ADBKeyboard gets
base64, logs show ``repr``, records JSON escapes and reports HTML escapes. Redacting only the plain
value leaves all of these readable, so ``secret_forms`` lists each spelling.

Base64 has no fixed spelling for a value inside a longer text: the encoding
depends on where the value starts relative to the 3-byte groups. For each of
the three alignments the characters that depend only on the value's bytes are
listed; the encoding of any text holding the value holds one of them, and at
most a few bits of the value stay in the characters around it.
"""

from __future__ import annotations

import base64
import html
import json
import math
import shlex

# Encoded spellings shorter than this are not redacted: in a long base64 or escaped text a 3-character
# string matches by chance, and replacing it would mangle the text while hiding nothing of the value.
MIN_ENCODED_CHARS = 4


def secret_forms(value: str) -> tuple[str, ...]:
    """The value and its encodings (distinct, longest first); empty for an empty value."""
    if not value:
        return ()
    percent = value.replace(" ", "%s")  # what `input text` gets for a space
    spellings = [value, percent]
    for text in (value, percent):
        spellings += [
            shlex.quote(text),
            _inside_single_quotes(text),
            json.dumps(text, ensure_ascii=False)[1:-1],
            json.dumps(text)[1:-1],
            repr(text)[1:-1],
            _inside_python_quotes(text),
            html.escape(text),
        ]
    spellings += base64_forms(value)
    encoded = {form for form in spellings[1:] if len(form) >= MIN_ENCODED_CHARS}
    return tuple(sorted({value, *encoded}, key=lambda form: (-len(form), form)))


def _inside_single_quotes(text: str) -> str:
    """How ``shlex.quote`` spells ``text`` inside a longer quoted word: each ' closes, escapes and reopens."""
    return text.replace("'", "'\"'\"'")


def _inside_python_quotes(text: str) -> str:
    """How a model writes ``text`` inside a single-quoted argument (``type(content='it\\'s')``)."""
    return text.replace("\\", "\\\\").replace("'", "\\'")


def base64_forms(value: str) -> list[str]:
    """For each alignment, the base64 characters fixed by the value's UTF-8 bytes alone."""
    data = value.encode("utf-8")
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        first = math.ceil(offset * 8 / 6)  # the first character with no bit of the padding before the value
        last = (offset + len(data)) * 8 // 6  # characters past this one hold bits after the value
        forms.append(encoded[first:last])
    return forms
