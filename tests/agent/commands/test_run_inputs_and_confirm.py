"""`agent run`'s inputs checked before anything runs, the launch check, and the confirmation prompt.

Unit level: task-file validation of desktop command lines and of every model
setting, the goal-or-file rule, the launch check, the confirmation prompt and
its declines, and plural wording. The CLI paths live in test_run_cli_errors.py.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from pathlib import Path

import pytest
from rich.console import Console

from qwen_gui_agent.agent.commands.model_options import ModelFlags
from qwen_gui_agent.agent.commands.model_settings import resolve_model_settings
from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.runtime.console import UserChannel
from qwen_gui_agent.agent.runtime.progress import RichEvents
from qwen_gui_agent.tasks.loader import TaskFileError, parse_task
from tests.support.doubles import CollectedEvents, MemoryDevice, TerminalInput

# ----------------------------------------------------------------------------- 1. desktop command lines


def test_an_unbalanced_quote_in_a_desktop_launch_is_a_load_error():
    text = 'device: desktop\nsteps:\n  - ai: fine\n  - launch: "xmessage \\"unterminated"\n'
    with pytest.raises(TaskFileError) as caught:
        parse_task(text, {}, source="t.yaml")
    assert str(caught.value).startswith("t.yaml:4:13: steps[1].launch: ")
    assert "closing quotation" in str(caught.value)


def test_an_unbalanced_quote_in_the_desktop_app_is_a_load_error():
    text = 'device:\n  app: "xterm -e \'vi"\nsteps: [{ai: fine}]\n'
    with pytest.raises(TaskFileError, match=r"t.yaml:2:8: device.app: .*closing quotation"):
        parse_task(text, {}, source="t.yaml")


def test_an_android_label_may_hold_a_quote():
    task = parse_task('device: android\nsteps: [{launch: "Mario\'s Kart"}]\n', {})
    assert task.steps[0].launch == "Mario's Kart"


# ----------------------------------------------------------------------------- 2. every model setting


def model_flags() -> list[str]:
    """The model settings a command can take as flags: the fields of the ModelFlags group."""
    return [field.name for field in dataclasses.fields(ModelFlags)]


# key: (YAML text, what the resolved BackendSettings field holds). Each differs from its default.
EACH_KEY = {
    "backend": ("openai", ("kind", "openai")),
    "model": ("3b", ("model", "Qwen/Qwen2.5-VL-3B-Instruct")),
    "base_url": ("http://10.0.0.1:9/v1/", ("base_url", "http://10.0.0.1:9/v1")),
    "api_key_env": ("MY_KEY", None),
    "min_pixels": ("8*28*28", ("min_pixels", 8 * 28 * 28)),
    "max_pixels": ("1280*28*28", ("max_pixels", 1280 * 28 * 28)),
    "dialect": ("uitars", None),
    "coords": ("relative", None),
    "max_new_tokens": ("64", ("max_new_tokens", 64)),
    "source": ("modelscope", ("source", "modelscope")),
    "script": ("answers.yaml", ("script", Path("answers.yaml"))),
    "temperature": ("0.7", ("temperature", 0.7)),
    "request_timeout": ("7.5", ("timeout_s", 7.5)),
    "max_retries": ("0", ("max_retries", 0)),
    "image_format": ("jpeg", ("image_format", "jpeg")),
    "jpeg_quality": ("55", ("jpeg_quality", 55)),
    "torch_device": ("cuda:1", ("torch_device", "cuda:1")),
    "fast": ("off", ("fast", False)),
    "grammar": ("on", ("grammar", "qwen")),
    "adapter": ("output/v0/checkpoint-3", ("adapter", "output/v0/checkpoint-3")),
    "structured_output": ("sglang", ("structured_output", "sglang")),
    "context_limit": ("8192", ("context_limit", 8192)),
    "check_server_frame": ("off", ("check_server_frame", False)),
}


def resolved(yaml_model: str, environ: dict[str, str] | None = None, **flags: object):
    task = parse_task(f"model:\n{yaml_model}steps: [{{ai: go}}]\n", {})
    return resolve_model_settings(
        ModelFlags(**flags),
        environ={"MY_KEY": "k", **(environ or {})},  # type: ignore[arg-type]
        task=task.model.model_dump(exclude_none=True),
    )


def test_the_model_section_takes_every_model_flag():
    from qwen_gui_agent.tasks.schema import ModelSection

    assert sorted(ModelSection.model_fields) == sorted(EACH_KEY) == sorted(model_flags())


@pytest.mark.parametrize("key", sorted(EACH_KEY))
def test_each_model_key_reaches_the_backend_settings(key):
    text, expected = EACH_KEY[key]
    # `backend: openai` and `api_key_env` need each other; the rest stand alone.
    extra = "  backend: openai\n" if key == "api_key_env" else ""
    choice = resolved(f"  {key}: '{text}'\n{extra}")
    assert choice.origins[key] == f"the task file's model.{key}"
    if key == "api_key_env":
        assert choice.settings.api_key.get_secret_value() == "k"
    elif key == "dialect":
        assert choice.dialect == "uitars"
    elif key == "coords":
        assert choice.coordinates == "relative"
    else:
        field, value = expected
        assert getattr(choice.settings, field) == value


def test_model_keys_are_parsed_like_their_flags():
    with pytest.raises(TaskFileError, match=r"3:15: model.max_pixels: .*not a pixel count"):
        parse_task("name: x\nmodel:\n  max_pixels: 12 by 28\nsteps: [{ai: go}]\n", {}, source="t")
    with pytest.raises(TaskFileError, match=r"model.fast: .*not a yes/no value"):
        parse_task("model: {fast: maybe}\nsteps: [{ai: go}]\n", {})
    with pytest.raises(TaskFileError, match=r"model.jpeg_quality"):
        parse_task("model: {jpeg_quality: 101}\nsteps: [{ai: go}]\n", {})
    with pytest.raises(TaskFileError, match=r"model.image_format"):
        parse_task("model: {image_format: gif}\nsteps: [{ai: go}]\n", {})
    with pytest.raises(TaskFileError, match=r"model.temperatur: unknown field"):
        parse_task("model: {temperatur: 1}\nsteps: [{ai: go}]\n", {})


def test_flag_beats_task_beats_environment_beats_default():
    environ = {"AGENT_TEMPERATURE": "0.3", "AGENT_MAX_RETRIES": "5"}
    choice = resolved("  temperature: 0.7\n  max_retries: 1\n", environ, temperature=0.9)
    assert choice.settings.temperature == 0.9 and choice.origins["temperature"] == "--temperature"
    assert choice.settings.max_retries == 1
    assert resolved("  temperature: 0.7\n", environ).settings.max_retries == 5
    assert resolved("  temperature: 0.7\n").settings.max_retries == 3  # the default


# ----------------------------------------------------------------------------- 5. goal or task file


def goal_or_file(argument: str) -> tuple[str, object]:
    from qwen_gui_agent.agent.commands.run import TaskArgumentError, read_task_argument

    try:
        task, task_file = read_task_argument(argument, {})
    except TaskArgumentError as error:
        return "error", str(error)
    return ("file", task_file) if task_file else ("goal", task.steps[0].ai)


def test_a_goal_is_a_goal_even_when_it_ends_in_yaml_or_names_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "done").write_text("steps: [{ai: not this}]\n")
    (tmp_path / "real.yaml").write_text("steps: [{ai: from the file}]\n")
    assert goal_or_file("open the file config.yaml") == ("goal", "open the file config.yaml")
    assert goal_or_file("done") == ("goal", "done")
    assert goal_or_file("real.yaml") == ("file", "real.yaml")
    kind, message = goal_or_file("missing.yml")
    assert kind == "error" and "no such task file: missing.yml" in message


# ----------------------------------------------------------------------------- 6. launch that dies at once


def test_a_desktop_launch_that_exits_at_once_with_an_error_fails_the_step(run_with):
    command = f"{sys.executable} -c \"import sys; sys.stderr.write('no such window\\\\n'); sys.exit(3)\""
    task = parse_task("steps: [{launch: '" + command.replace("'", "''") + "'}, {wait: 0}]", {})
    result, _, _ = run_with([], task=task, device=MemoryDevice())
    assert result.status == "failure"
    assert "exited at once with code 3" in result.message and "no such window" in result.message
    assert [step.kind for step in load_run(result.run_dir).steps] == ["launch"]


def test_a_desktop_launch_that_exits_cleanly_at_once_is_fine(run_with):
    task = parse_task("steps: [{launch: '" + sys.executable + " -c pass'}]", {})
    result, _, _ = run_with([], task=task, device=MemoryDevice())
    assert result.status == "success"


# ----------------------------------------------------------------------------- 7. confirmation


def test_the_confirm_prompt_shows_its_choices_verbatim():
    screen = io.StringIO()
    user = UserChannel(stdin=TerminalInput("y\n"), console=Console(file=screen, color_system=None, width=200))
    assert user.confirm("type(content='[x]')").decision == "yes"
    assert screen.getvalue() == "run type(content='[x]')? [y]es/[n]o/[e]dit/[q]uit: "


def test_a_declined_action_prints_as_declined(run_with):
    events = CollectedEvents()
    user = UserChannel(stdin=TerminalInput("n\ny\n"), console=Console(file=io.StringIO()), events=events)
    task = parse_task("steps: [{do: \"click(start_box='(5,5)')\"}, {do: \"click(start_box='(6,6)')\"}]", {})
    device = MemoryDevice()
    result, _, _ = run_with([], task=task, device=device, user=user, confirm=True)
    assert result.status == "success" and len(device.executed) == 1
    assert [(data["action"], data["decision"]) for data in events.named("confirmation")] == [
        ("click(start_box='(5,5)')", "no"),
        ("click(start_box='(6,6)')", "yes"),
    ]
    assert [step.note for step in load_run(result.run_dir).steps] == ["declined by the user", ""]


def test_the_console_marks_a_declined_step():
    screen = io.StringIO()
    console = RichEvents(Console(file=screen, width=200, color_system=None))
    console.emit("confirmation", {"action": "click(start_box='(5,5)')", "decision": "no"})
    console.emit("step", {"index": 1, "actions": ["click(start_box='(5,5)')"], "commands": [], "timings_ms": {}})
    console.emit("step", {"index": 2, "actions": ["wait()"], "commands": ["sleep 1"], "timings_ms": {}})
    lines = screen.getvalue().splitlines()
    assert lines[:2] == ["step 1", "    → click(start_box='(5,5)') (declined, not run)"]
    assert lines[3:5] == ["step 2", "    → wait()"]


# ----------------------------------------------------------------------------- 8. wording


def test_counts_are_pluralized(run_with):
    from qwen_gui_agent.agent.runtime.console import plural

    assert [plural(n, "step") for n in (0, 1, 2)] == ["0 steps", "1 step", "2 steps"]
    result, _, _ = run_with([], task=parse_task("steps: [{wait: 0}]", {}), device=MemoryDevice())
    assert result.message == "the 1 step is done"
    screen = io.StringIO()
    RichEvents(Console(file=screen, width=200, color_system=None)).emit(
        "run_finished", {"status": "success", "message": "", "steps": 1, "run_dir": "r"}
    )
    assert screen.getvalue().splitlines()[0] == "success (1 step)"
