"""The command line's basics as a new user meets them, each through the real `agent` command.

The version, `-v` wherever it is typed, a task of literal steps with no model at all, a
--base-url without its scheme, the model's loading shown as it happens, `agent report` on a
file, `agent screenshot` into a new folder, and `agent devices` leaving no adb server behind.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Iterator

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.cli import run_agent as run_cli
from tests.support.e2e import REPO, agent_env, only_run_dir, run_agent, xvfb_or_skip
from tests.support.xvfb import XvfbServer

LITERAL_TASK = "name: literal only\nsteps:\n  - do: \"click(start_box='(10,10)')\"\n  - wait: 0\n"


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def without_display() -> dict[str, str]:
    return agent_env({key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_version_is_the_packages():
    done = run_cli(["--version"], env=without_display())
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert done.returncode == 0 and done.stdout.strip() == f"agent (qwen-gui-agent) {version}"


@pytest.mark.xvfb
def test_a_task_of_literal_steps_needs_no_model(display, tmp_path):
    task = tmp_path / "literal.yaml"
    task.write_text(LITERAL_TASK, encoding="utf-8")
    out = tmp_path / "runs"
    # A local model that does not exist: loading it would fail (and import torch first).
    done = run_agent(
        [
            str(task),
            "--backend",
            "local",
            "--model",
            str(tmp_path / "no-weights"),
            "--source",
            "local",
            "--no-failsafe",
            "--out",
            str(out),
            "--settle",
            "0",
        ],
        agent_env(display.env()),
    )
    assert done.returncode == 0, done.stderr
    run = load_run(only_run_dir(out))
    assert run.info.status == "success" and [step.kind for step in run.steps] == ["do", "wait"]
    assert run.info.model["started"] is False


@pytest.mark.xvfb
def test_verbose_means_the_same_before_and_after_run(display, tmp_path):
    task = tmp_path / "literal.yaml"
    task.write_text(LITERAL_TASK, encoding="utf-8")
    env = agent_env(display.env())
    common = [str(task), "--no-failsafe", "--settle", "0"]
    plain = run_agent([*common, "--out", str(tmp_path / "a")], env)
    after = run_agent([*common, "--out", str(tmp_path / "b"), "-v"], env)
    before = run_cli(["-v", "run", *common, "--out", str(tmp_path / "c")], env=env)
    for done in (plain, after, before):
        assert done.returncode == 0, done.stderr

    def commands(stdout: str) -> list[str]:
        return [line.strip() for line in stdout.splitlines() if line.strip().startswith("$ ")]

    assert commands(plain.stdout) == []
    assert commands(after.stdout) == commands(before.stdout) != []


def test_a_base_url_without_a_scheme_is_bad_input(tmp_path):
    out = tmp_path / "runs"
    done = run_agent(
        ["look around", "--backend", "openai", "--base-url", "localhost:8000/v1", "--out", str(out), "--json"],
        without_display(),
    )
    assert done.returncode == 2, done.stderr
    [error] = json_lines(done.stdout)
    assert (error["kind"], error["exit_code"]) == ("bad_input", 2)
    assert "did you mean http://localhost:8000/v1" in error["message"] and "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.xvfb
def test_nobody_at_the_base_url_fails_the_first_step_at_once(display, tmp_path):
    out = tmp_path / "runs"
    url = f"http://127.0.0.1:{free_port()}/v1"
    done = run_agent(
        [
            "look around",
            "--backend",
            "openai",
            "--base-url",
            url,
            "--max-retries",
            "5",
            "--no-failsafe",
            "--out",
            str(out),
            "--json",
        ],
        agent_env(display.env()),
    )
    assert done.returncode == 1, done.stderr
    finished = json_lines(done.stdout)[-1]
    assert f"cannot connect to the model server at {url}" in finished["message"]
    assert "retrying" not in done.stderr  # not taken for a passing network fault


@pytest.mark.xvfb
@pytest.mark.slow
def test_the_local_model_loading_is_announced_before_the_run(display, tmp_path, tmp_path_factory):
    pytest.importorskip("torch")
    from tests.support.tiny_qwen import tiny_qwen_for_session

    model = tiny_qwen_for_session(tmp_path_factory)
    args = [
        "look around",
        "--backend",
        "local",
        "--model",
        str(model),
        "--source",
        "local",
        "--torch-device",
        "cpu",
        "--max-new-tokens",
        "4",
        "--max-steps",
        "1",
        "--max-parse-errors",
        "0",
        "--no-failsafe",
        "--out",
        str(tmp_path / "runs"),
    ]
    events = json_lines(run_agent([*args, "--json"], agent_env(display.env()), timeout=900).stdout)
    names = [event["event"] for event in events]
    assert names[:3] == ["model_loading", "model_ready", "run_started"], names
    assert events[1]["seconds"] > 0 and events[0]["model"] == str(model)
    # The phases of the step, in the order they happened, and its end.
    phases = [event["phase"] for event in events if event["event"] == "phase"]
    assert phases[:3] == ["screenshot", "model", "parse"] and "step" in names
    # The recorded step holds what the backend measured inside its call.
    step = load_run(only_run_dir(tmp_path / "runs")).steps[0]
    assert {"model_preprocess", "model_first_token", "model_total"} <= step.timings_ms.keys()
    # Without a terminal the same run prints two plain lines for the loading, nothing animated.
    text = run_agent([*args, "--out", str(tmp_path / "runs2")], agent_env(display.env()), timeout=900).stdout
    assert f"loading the model {model} (local)\n" in text and "model ready in " in text and "\x1b" not in text


def test_report_of_a_file_is_bad_input(tmp_path):
    not_a_run = tmp_path / "notes.txt"
    not_a_run.write_text("hello", encoding="utf-8")
    done = run_cli(["report", str(not_a_run)], env=without_display())
    assert done.returncode == 2 and "is not a recorded run: it is not a directory" in " ".join(done.stderr.split())


@pytest.mark.xvfb
def test_screenshot_makes_the_folders_of_its_output(display, tmp_path):
    target = tmp_path / "new" / "folder" / "shot.png"
    done = run_cli(["screenshot", "-o", str(target)], env=agent_env(display.env()))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_devices_leaves_no_adb_server_it_started(tmp_path):
    port = free_port()
    done = run_cli(["devices", "--json"], env={**without_display(), "ANDROID_ADB_SERVER_PORT": str(port)})
    assert done.returncode == 0, done.stderr
    assert any(entry["kind"] == "android" for entry in json_lines(done.stdout))
    with pytest.raises(OSError):  # nothing listens there any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
