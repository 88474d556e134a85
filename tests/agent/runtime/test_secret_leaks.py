"""Secrets stay secret in every spelling, through every channel of a real run (issue 16, item 2).

One `agent run -v` on Android, as a child process: adbutils over a real socket to the
loopback adb server, the openai backend over HTTP to the loopback model server. The
run is made to hit each way a secret used to leak:

* the adb link breaks as ``input text`` is sent, so the retry warning quotes the
  command with the value in its shell-quoted ``%s`` form;
* it breaks again as the ADBKeyboard broadcast is sent, quoting the value in base64;
* the model repeats both values it "read on the screen", in every spelling;
* the server answers errors whose body echoes the Authorization header.

Then every file of the run directory, every console and log line and every request the
model server received is searched for each value in each spelling: plain, ``%s``,
shell-quoted, JSON- and HTML-escaped, and base64 at every alignment.
"""

from __future__ import annotations

import base64
import html
import json
import shlex
from pathlib import Path

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone
from tests.support.cli import run_on_fake_phone
from tests.support.model_server import ModelServer, RecordedRequest, Reply

pytestmark = pytest.mark.slow

ASCII_SECRET = "it's my Pa55 word"  # typed with `input text`: a quote, and spaces sent as %s
UNICODE_SECRET = "pässwört 密码 42"  # typed through the ADBKeyboard IME: base64
API_KEY = "sk-leak-test-0123456789abcdef"


def spellings(value: str) -> dict[str, str]:
    """Every way the value could be written down, by the name of the way."""
    percent = value.replace(" ", "%s")
    forms = {
        "plain": value,
        "%s": percent,
        "shell-quoted": shlex.quote(value),
        "shell-quoted %s": shlex.quote(percent),
        "inside single quotes": percent.replace("'", "'\"'\"'"),
        "JSON": json.dumps(value)[1:-1],
        "JSON %s": json.dumps(percent)[1:-1],
        "HTML": html.escape(value),
        "repr": repr(value)[1:-1],
        "in a quoted argument": value.replace("\\", "\\\\").replace("'", "\\'"),
        "base64": base64.b64encode(value.encode()).decode(),
    }
    forms |= {f"base64 at offset {offset}": core for offset, core in enumerate(base64_cores(value))}
    return forms


def base64_cores(value: str) -> list[str]:
    """For the value starting 0, 1 or 2 bytes into a 3-byte group, a stretch of the base64 that only its own bytes
    decide: found inside any base64 text that holds the value at that alignment (the ends, which mix in the bytes
    around it, are left off generously)."""
    data = value.encode()
    return [base64.b64encode(bytes(offset) + data).decode()[-(-4 * offset // 3) : -4] for offset in range(3)]


def leaks(text: bytes | str, where: str) -> list[str]:
    data = text.encode("utf-8", errors="surrogateescape") if isinstance(text, str) else text
    found = []
    for name, value in (("ASCII_SECRET", ASCII_SECRET), ("UNICODE_SECRET", UNICODE_SECRET), ("API key", API_KEY)):
        for form, spelling in spellings(value).items():
            if spelling.encode() in data:
                found.append(f"{name} ({form}) in {where}")
    return found


def strings_in(data: object) -> list[str]:
    if isinstance(data, str):
        return [data]
    if isinstance(data, dict):
        return [text for key, value in data.items() for text in (key, *strings_in(value))]
    if isinstance(data, list):
        return [text for value in data for text in strings_in(value)]
    return []


def echo_authorization(status: int):
    def reply(request: RecordedRequest) -> Reply:
        return Reply.error(status, f"rejected; you sent Authorization: {request.headers['authorization']}")

    return reply


def repeated(value: str) -> list[str]:
    """How a model could repeat the value: each spelling, and base64 of texts holding it at each alignment."""
    whole = [form for name, form in spellings(value).items() if not name.startswith("base64 at")]
    return whole + [base64.b64encode(prefix + value.encode() + b"!").decode() for prefix in (b"a", b"ab", b"abc")]


def repeat_the_secrets(request: RecordedRequest) -> str:
    shown = ", ".join(repeated(ASCII_SECRET)) + " / " + ", ".join(repeated(UNICODE_SECRET))
    return f"Thought: the screen shows {shown}\nAction: wait()"


def test_no_secret_in_any_spelling_leaves_the_run(tmp_path: Path) -> None:
    phone = VirtualPhone(size=(1080, 2400))
    with AdbServer([phone]) as adb, ModelServer() as model_server:
        adb.drop_once("input text")
        adb.drop_once("am broadcast")
        model_server.push(
            "Thought: the first password\nAction: type(content='{{secret:ASCII_SECRET}}')",
            "Thought: the second one\nAction: type(content='{{secret:UNICODE_SECRET}}')",
            repeat_the_secrets,
            echo_authorization(503),  # retried: the warning quotes the echo
            echo_authorization(400),  # not retried: the run ends with it
        )
        secrets = {"AGENT_API_KEY": API_KEY, "ASCII_SECRET": ASCII_SECRET, "UNICODE_SECRET": UNICODE_SECRET}
        task = "log in with {{secret:ASCII_SECRET}}, then unlock with {{secret:UNICODE_SECRET}}"
        result = run_on_fake_phone(
            task,
            "-v",
            "--max-retries",
            "1",
            adb_port=adb.port,
            base_url=model_server.base_url,
            out=tmp_path / "runs",
            dialect="uitars",
            env=secrets,
            timeout=180,
        )
        requests = model_server.requests
        commands = phone.commands

    console = result.stdout + result.stderr
    # Each channel was really exercised: the values were typed for real, after a retry of each command ...
    assert phone.text == ASCII_SECRET + UNICODE_SECRET, console
    assert sum(command.startswith("input text") for command in commands) == 1  # the dropped one never ran
    assert sum(command.startswith("am broadcast") for command in commands) == 1
    warnings = [line for line in result.stderr.splitlines() if "retry 1 of" in line]
    # The retry warnings name the command but not the text it types (not even as a placeholder: a piece of a
    # secret typed in chunks could not be found to be redacted).
    assert any("input text <" in line and "characters of typed text>" in line for line in warnings), result.stderr
    assert any("am broadcast" in line and "characters of typed text>" in line for line in warnings), result.stderr
    # ... the key really went out, and came back in error bodies ...
    assert len(requests) == 5 and requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert "[API key]" in console
    # ... and what the model repeated reached the record and the next prompt as placeholders.
    run_dir = next((tmp_path / "runs").iterdir())
    run = load_run(run_dir)
    assert run.info.status == "error" and "[API key]" in (run.info.message or "")
    assert len(run.steps) >= 3 and "{{secret:ASCII_SECRET}}" in run.steps[2].thought
    assert "{{secret:UNICODE_SECRET}}" in "".join(requests[3].texts())

    # Nothing, anywhere, in any spelling.
    found = leaks(console, "the console")
    for path in sorted(run_dir.rglob("*")):
        if path.is_file():
            found += leaks(path.read_bytes(), str(path.relative_to(run_dir)))
        if path.suffix == ".html":  # and the page's text as a browser shows it
            found += leaks(html.unescape(path.read_text(encoding="utf-8")), f"the text of {path.relative_to(run_dir)}")
        if path.suffix in (".json", ".jsonl"):  # and the strings as they read once the JSON escapes are undone
            text = path.read_text(encoding="utf-8")
            records = (
                [json.loads(line) for line in text.splitlines() if line.strip()]
                if path.suffix == ".jsonl"
                else [json.loads(text)]
            )
            found += leaks("\n".join(strings_in(records)), f"the strings of {path.relative_to(run_dir)}")
    for number, request in enumerate(requests):
        found += leaks(request.raw, f"request {number + 1}")
        found += leaks("".join(request.texts()), f"the text of request {number + 1}")  # JSON escapes undone
    assert not found, "\n".join(found)


@pytest.mark.parametrize("value", [ASCII_SECRET, UNICODE_SECRET, API_KEY])
def test_the_base64_cores_searched_for_are_in_any_base64_holding_the_value(value: str) -> None:
    cores = base64_cores(value)
    assert all(len(core) >= 12 for core in cores)
    for before in (b"", b"x", b"xy", b"xyz", b"\xff\xfe"):
        for after in (b"", b"!", b"!?", b"\x00\x00\x00"):
            encoded = base64.b64encode(before + value.encode() + after).decode()
            assert cores[len(before) % 3] in encoded
