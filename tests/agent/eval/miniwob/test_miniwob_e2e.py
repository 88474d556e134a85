"""``agent eval miniwob`` as a user runs it: Xvfb, Chromium, the agent's desktop device, real MiniWoB++ rewards.

The CI subset: five tasks of different kinds, three seeds each. The reference policy through the
agent's whole path (screenshot, frame, the dialect's answer parsed and mapped, xdotool on its own
display) must win exactly the episodes it wins through Selenium directly (the upper bound). A
scripted wrong policy and a random-weights local model must win nothing. Every episode is a run
directory that replays with ``agent replay --check``, and a second run resumes instead of replaying.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.miniwob.tasks import CI_TASKS
from tests.agent.eval.support import check_html
from tests.support.cli import REPO, run_agent

pytest.importorskip("miniwob")
pytest.importorskip("selenium")
pytestmark = [pytest.mark.xvfb, pytest.mark.slow]

SEEDS = 3
TIMEOUT_S = 1200  # a hang guard for the child process, not a speed goal


@pytest.fixture(scope="module", autouse=True)
def needs_the_browser() -> None:
    for tool in ("Xvfb", "xdotool", "chromium", "chromedriver"):
        if shutil.which(tool) is None and not (tool == "chromium" and shutil.which("chromium-browser")):
            pytest.skip(f"{tool} is not installed (.ci/run installs xvfb, xdotool, chromium, chromium-driver)")


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
    return {**env, "PYTHONPATH": str(REPO)}


def miniwob(*args: str | Path) -> tuple[int, str]:
    result = run_agent(["eval", "miniwob", *map(str, args)], env=environment(), timeout=TIMEOUT_S)
    return result.returncode, result.stderr


def results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def wins(out: Path) -> dict[str, bool]:
    return {episode["id"]: episode["success"] for episode in results(out)["episodes"]}


def test_the_reference_policy_wins_through_the_agent_what_it_wins_through_selenium(tmp_path: Path) -> None:
    view = ["--zoom", "1.5", "--scale", "2"]  # a HiDPI screen at a fractional zoom: 480x630 captures
    upper, agent = tmp_path / "selenium", tmp_path / "agent"
    code, log = miniwob(*CI_TASKS, "--episodes", SEEDS, "--policy", "selenium", *view, "--out", upper)
    assert code == 0, log
    # Qwen3-VL's dialect: 0..999 thousandths on factor-32 frames, the hardest mapping of the three.
    code, log = miniwob(
        *CI_TASKS, "--episodes", SEEDS, "--policy", "reference", "--dialect", "qwen3", *view, "--out", agent
    )
    assert code == 0, log

    expected = {f"{task}/{seed}" for task in CI_TASKS for seed in range(SEEDS)}
    assert set(wins(upper)) == set(wins(agent)) == expected
    assert wins(agent) == wins(upper)
    assert sum(wins(upper).values()) >= len(expected) - 1  # the upper bound itself plays these tasks
    summary = results(agent)["summary"]
    assert list(summary["tasks"]) == list(CI_TASKS) and summary["overall"]["episodes"] == len(expected)

    episodes = results(agent)["episodes"]
    for episode in episodes:  # every episode a normal run directory
        run_dir = agent / episode["run_dir"]  # relative to the results folder
        assert {"run.json", "steps.jsonl", "report.html", "episode.json"} <= {p.name for p in run_dir.iterdir()}
        facts = json.loads((run_dir / "episode.json").read_text(encoding="utf-8"))
        assert facts["task_area"]["screen_region"].startswith("480x630+")
        assert facts["success"] == episode["success"]
    run = json.loads((agent / episodes[0]["run_dir"] / "run.json").read_text(encoding="utf-8"))
    assert run["device"]["name"].startswith("desktop::") and run["dialect"] == "qwen3"
    replay = run_agent(["replay", str(agent / episodes[-1]["run_dir"]), "--check"], env=environment(), timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    failures = sum(not episode["success"] for episode in episodes)
    assert f"Failed episodes ({failures})" in "".join(check_html(agent / "report.html").text)

    code, log = miniwob(
        *CI_TASKS, "--episodes", SEEDS, "--policy", "reference", "--dialect", "qwen3", *view, "--out", agent
    )
    assert code == 0 and "0 to play" in log, log  # resumed: nothing played again


def test_a_scripted_wrong_policy_wins_nothing(tmp_path: Path) -> None:
    script = tmp_path / "wrong.json"
    # It clicks the instruction, not the task, and says it is done.
    script.write_text(
        json.dumps(
            ["Thought: here\nAction: click(start_box='(20,20)')", "Thought: done\nAction: finished(content='done')"]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, log = miniwob(
        "click-button",
        "enter-text",
        "--episodes",
        "2",
        "--backend",
        "scripted",
        "--script",
        script,
        "--dialect",
        "uitars",
        "--out",
        out,
    )
    assert code == 0, log
    episodes = results(out)["episodes"]
    assert len(episodes) == 4 and not any(episode["success"] for episode in episodes)
    assert all(episode["status"] == "success" and not episode["done"] for episode in episodes)  # it claimed success
    assert results(out)["summary"]["overall"]["success_rate"] == 0.0
    page = check_html(out / "report.html")
    assert page.tags.count("h3") == 4  # each failed episode drawn with its steps


def test_a_random_weights_local_model_wins_nothing(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "out"
    code, log = miniwob(
        "click-test",
        "--episodes",
        "2",
        "--backend",
        "local",
        "--model",
        tiny_qwen_dir,
        "--source",
        "local",
        "--torch-device",
        "cpu",
        "--max-pixels",
        "64*28*28",
        "--max-new-tokens",
        "12",
        "--max-steps",
        "3",
        "--out",
        out,
    )
    assert code == 0, log
    episodes = results(out)["episodes"]
    assert len(episodes) == 2 and not any(episode["success"] for episode in episodes)
    assert all(episode["status"] in {"failure", "budget", "stuck"} for episode in episodes)


def test_an_openai_compatible_server_plays_two_episodes_at_once(tmp_path: Path) -> None:
    """The openai backend, shared by two workers on two Xvfb displays; the server sees the task area's frame."""
    from tests.support.model_server import ModelServer, Reply

    give_up = (
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "failure"}}\n</tool_call>'
    )
    out = tmp_path / "out"
    with ModelServer([Reply.answer(give_up) for _ in range(2)], model="Qwen/Qwen2.5-VL-7B-Instruct") as server:
        code, log = miniwob(
            "click-test",
            "--episodes",
            "2",
            "--parallel",
            "2",
            "--base-url",
            server.base_url,
            "--model",
            "Qwen/Qwen2.5-VL-7B-Instruct",
            "--out",
            out,
        )
        requests = server.requests
    assert code == 0, log
    assert {request.images()[-1].size for request in requests} == {(476, 616)}  # 480x630 at zoom 3, smart-resized
    assert any("Click the button" in text for text in requests[0].texts())  # the environment's instruction
    episodes = results(out)["episodes"]
    assert [(episode["status"], episode["success"]) for episode in episodes] == [("failure", False)] * 2
    devices = {
        json.loads((out / episode["run_dir"] / "run.json").read_text(encoding="utf-8"))["device"]["name"]
        for episode in episodes
    }
    assert len(devices) == 2  # one display each


def test_sigterm_stops_the_eval_cleanly_and_a_second_run_resumes(tmp_path: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.support.cli import AGENT_COMMAND

    out = tmp_path / "out"
    command = [
        *AGENT_COMMAND,
        "eval",
        "miniwob",
        "click-test",
        "--policy",
        "reference",
        "--episodes",
        "40",
        "--out",
        str(out),
    ]
    process = subprocess.Popen(
        command, env=environment(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    log = out / "results.jsonl"
    deadline = time.monotonic() + TIMEOUT_S  # a hang guard: the first episode ends within seconds
    while not (log.exists() and log.read_text(encoding="utf-8").count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 130, stderr
    played = log.read_text(encoding="utf-8").count("\n")
    assert 2 <= played < 40
    assert len(results(out)["episodes"]) == played  # the summary of what finished was written on the way out

    code, second = miniwob("click-test", "--policy", "reference", "--episodes", str(played + 1), "--out", out)
    assert code == 0 and f"1 to play, {played} done before" in second, second
