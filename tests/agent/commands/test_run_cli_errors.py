"""`agent run` as a user meets it when things go wrong: exit codes, run records, --json endings, signals.

Each case is a real `agent run` process. A device that cannot open needs no
display at all; the backend and SIGTERM cases use Xvfb (the desktop opens
there) and a loopback model server that answers slowly.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator

import pytest

from qwen_gui_agent.agent.records.run_files import load_run
from tests.support.e2e import agent_env, only_run_dir, run_agent, start_agent, xvfb_or_skip
from tests.support.model_server import ModelServer, Reply
from tests.support.xvfb import XvfbServer

OFFLINE_MODEL = ["--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"]


def no_display_env() -> dict[str, str]:
    return agent_env({key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")})


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_a_malformed_device_spec_is_bad_input(tmp_path):
    out = tmp_path / "runs"
    done = run_agent(["look around", "--device", "foo", "--out", str(out), "--json", *OFFLINE_MODEL], no_display_env())
    assert done.returncode == 2, done.stderr
    assert "unknown device 'foo'" in done.stderr
    last = json_lines(done.stdout)[-1]
    assert (last["event"], last["kind"], last["exit_code"]) == ("error", "bad_input", 2)
    assert not out.exists()  # bad input: nothing ran, nothing to record


def test_a_device_that_cannot_open_leaves_no_run_directory(tmp_path):
    out = tmp_path / "runs"
    done = run_agent(
        ["look around", "--device", "desktop:9", "--out", str(out), "--json", *OFFLINE_MODEL], no_display_env()
    )
    assert done.returncode == 1, done.stderr
    [error] = json_lines(done.stdout)
    assert (error["event"], error["kind"], error["status"], error["exit_code"]) == ("error", "not_started", "error", 1)
    assert "cannot open the device" in error["message"] and "DISPLAY" in error["message"]
    assert "cannot open the device" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()  # it never started: nothing to record


def test_goal_and_task_file_arguments(tmp_path):
    env = no_display_env()
    typo = run_agent(["tasks/examples/no_such_task.yaml", "--device", "foo", *OFFLINE_MODEL], env)
    assert typo.returncode == 2 and "no such task file: tasks/examples/no_such_task.yaml" in typo.stderr
    # A goal that mentions a YAML file is a goal: it gets as far as the device.
    goal = run_agent(["open the file config.yaml", "--device", "foo", *OFFLINE_MODEL], env)
    assert goal.returncode == 2 and "unknown device 'foo'" in goal.stderr


def test_an_unclosed_quote_in_a_launch_is_rejected_before_the_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('steps:\n  - launch: "xmessage \\"unterminated"\n', encoding="utf-8")
    out = tmp_path / "runs"
    done = run_agent([str(bad), "--out", str(out), *OFFLINE_MODEL], no_display_env())
    assert done.returncode == 2
    assert f"{bad}:2:13: steps[0].launch:" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and not out.exists()


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(640, 480)


@pytest.mark.parametrize("script", ["missing.json", "bad.json", None])
def test_a_bad_script_is_bad_input_found_before_the_device_opens(tmp_path, script):
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    out = tmp_path / "runs"
    given = ["--script", str(tmp_path / script)] if script else []
    done = run_agent(
        ["look around", "--device", "desktop:9", "--backend", "scripted", *given, "--out", str(out), "--json"],
        no_display_env(),
    )
    assert done.returncode == 2, done.stderr
    [error] = json_lines(done.stdout)
    assert (error["event"], error["kind"], error["exit_code"]) == ("error", "bad_input", 2)
    assert "--script:" in error["message"] and "Traceback" not in done.stderr
    assert not out.exists()


@pytest.mark.xvfb
@pytest.mark.slow
def test_sigterm_is_recorded_as_sigterm(display, tmp_path):
    out = tmp_path / "runs"
    with ModelServer([Reply.slow(60)]) as server:
        process = start_agent(
            [
                "look around",
                "--device",
                "desktop",
                "--no-failsafe",
                "--backend",
                "openai",
                "--base-url",
                server.base_url,
                "--model",
                "m",
                "--out",
                str(out),
            ],
            agent_env(display.env()),
        )
        try:
            deadline = time.monotonic() + 60
            while not server.requests and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.05)
            assert server.requests, process.communicate(timeout=5)
            process.send_signal(signal.SIGTERM)
            stdout, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
    assert process.returncode == 130
    run = load_run(only_run_dir(out))
    assert (run.info.status, run.info.message) == ("interrupted", "stopped by SIGTERM")
    assert "Ctrl-C" not in stdout and "(1 step)" in stdout


@pytest.mark.xvfb
def test_the_task_files_model_section_reaches_the_run_record(display, tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(
        "model:\n  backend: openai\n  base_url: http://127.0.0.1:9/v1\n  model: 3b\n"
        "  max_pixels: 1280*28*28\n  temperature: 0.4\n  image_format: jpeg\n  jpeg_quality: 70\n"
        "  request_timeout: 9\n  max_retries: 1\n  fast: off\n  torch_device: cpu\n"
        "steps: [{ai: look around}]\n",
        encoding="utf-8",
    )
    out = tmp_path / "runs"
    # Nothing listens at port 9: the run starts, its first model call fails at once, and the record holds the settings.
    done = run_agent(
        [str(task), "--device", "desktop", "--temperature", "0.2", "--out", str(out)],
        agent_env({**display.env(), "AGENT_MAX_RETRIES": "5", "AGENT_JPEG_QUALITY": "20"}),
    )
    assert done.returncode == 1, done.stderr
    model = load_run(only_run_dir(out)).info.model
    assert {
        key: model[key]
        for key in (
            "kind",
            "model",
            "max_pixels",
            "temperature",
            "image_format",
            "jpeg_quality",
            "timeout_s",
            "max_retries",
            "fast",
            "torch_device",
        )
    } == {
        "kind": "openai",
        "model": "Qwen/Qwen2.5-VL-3B-Instruct",
        "max_pixels": 1280 * 28 * 28,
        "temperature": 0.2,  # the flag wins over the task file
        "image_format": "jpeg",
        "jpeg_quality": 70,
        "timeout_s": 9.0,
        "max_retries": 1,  # the task file wins over the environment
        "fast": False,
        "torch_device": "cpu",
    }
