"""`agent run --backend openai` against a real ``transformers serve`` process serving the tiny Qwen2.5-VL.

The server is started by the tests on loopback (tests/support/transformers_server.py), the desktop
is a real Xvfb screen of 1316x728 -- a size Qwen2.5-VL keeps as it is (47 x 26 patches of 28 px),
so the frame we send costs 1,222 image tokens and the server's own ``usage.prompt_tokens`` must say
so. The model's weights are random: its answers do not parse, which is fine here -- what is checked
is what the run records about the frame, the tokens, the context and a server error.

``transformers serve`` states no context length (it has no such flag and its ``/models`` names
none), so the overflow case gives it one with ``--context-limit``: the limit a user passes for
such a server, applied by the agent's estimate before anything is sent.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.e2e import REPO, agent_command, agent_env, only_run_dir, run_agent, xvfb_or_skip
from tests.support.transformers_server import ServeUnavailable, TransformersServer, check_serving_installed
from tests.support.xvfb import XvfbServer

# The server's cold start (READY_TIMEOUT_S) plus a run (RUN_TIMEOUT_S) may both fall in one test: a guard
# against a hang above the suite's 300 s, not a speed goal.
pytestmark = [pytest.mark.xvfb, pytest.mark.slow, pytest.mark.timeout(1200)]

SCREEN = (1316, 728)  # multiples of 28: the frame is the screen itself
IMAGE_TOKENS = (1316 // 28) * (728 // 28)  # 47 x 26 = 1,222
RUN_TIMEOUT_S = 600  # CPU generation on a busy machine; the tiny model answers in about a second a step


@pytest.fixture(scope="module")
def server(tiny_qwen_dir: Path) -> Iterator[TransformersServer]:
    try:
        check_serving_installed()
    except ServeUnavailable as missing:
        pytest.skip(str(missing))
    with TransformersServer(tiny_qwen_dir) as started:
        yield started


@pytest.fixture(scope="module")
def display() -> Iterator[XvfbServer]:
    yield from xvfb_or_skip(*SCREEN)


def agent_run(server: TransformersServer, display: XvfbServer, out: Path, *extra: str, model: str | None = None):
    args = [
        "look around",
        "--device",
        "desktop",
        "--backend",
        "openai",
        "--base-url",
        server.base_url,
        "--model",
        model or server.model,
        "--max-new-tokens",
        "8",
        "--out",
        str(out),
        "--json",
        *extra,
    ]
    return run_agent(args, agent_env(display.env()), timeout=RUN_TIMEOUT_S)


def steps_of(out: Path) -> list[dict]:
    lines = (only_run_dir(out) / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def events_of(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def two_steps_with_history(server: TransformersServer, display: XvfbServer, out: Path, *extra: str) -> list[dict]:
    done = agent_run(
        server, display, out, "--max-steps", "2", "--max-parse-errors", "5", "--history-images", "2", *extra
    )
    steps = steps_of(out)
    assert len(steps) == 2, f"{done.returncode}\n{done.stdout}\n{done.stderr}\n{server.log_tail()}"
    return steps


def test_the_run_records_the_frame_and_the_server_counts_its_image_tokens(server, display, tmp_path):
    first, second = two_steps_with_history(server, display, tmp_path / "runs")
    for step in (first, second):
        assert (step["frame"]["width"], step["frame"]["height"]) == SCREEN
    serving = first["serving"]
    assert serving["images"] == 1 and serving["image_tokens"] == IMAGE_TOKENS
    # What the server itself spent on the image (its prompt_tokens against a 56x56 twin's): the frame was kept.
    assert serving["server_image_tokens"] == IMAGE_TOKENS
    assert (serving["frame_check"], serving["server_frame"]) == ("kept", list(SCREEN))
    # The second prompt carries the first screenshot too: the server's count grows by one frame's tokens and more.
    assert second["prompt_tokens"] - first["prompt_tokens"] > IMAGE_TOKENS
    assert first["prompt_tokens"] > IMAGE_TOKENS
    # The backend's own phases, as docs/backends.md lists them for the openai backend (no server-side phases).
    model_phases = {key for key in first["timings_ms"] if key.startswith("model_")}
    assert model_phases == {"model_encode", "model_request", "model_total"}


def test_a_forced_overflow_trims_the_history_and_says_so(server, display, tmp_path):
    free = two_steps_with_history(server, display, tmp_path / "free")
    needed = free[1]["prompt_tokens"] + 8  # the second prompt (two screenshots) plus the answer budget
    limit = needed - IMAGE_TOKENS // 2  # too small for both screenshots, enough for the current one alone
    out = tmp_path / "limited"
    done = agent_run(
        server,
        display,
        out,
        "--max-steps",
        "2",
        "--max-parse-errors",
        "5",
        "--history-images",
        "2",
        "--context-limit",
        str(limit),
    )
    first, second = steps_of(out)
    assert "context_trim" not in first["serving"]
    trim = second["serving"]["context_trim"]
    assert (trim["limit"], trim["history_images_dropped"], trim["history_steps_dropped"]) == (limit, 1, 0)
    assert trim["needed"] > limit
    assert f"trimmed the prompt to fit the {limit}-token context" in second["note"]
    # The trimmed prompt went to the server and fit: no backend error, and the server's count is within the limit.
    assert (second.get("error") or {}).get("kind") != "backend", second["error"]
    assert second["prompt_tokens"] + 8 <= limit
    assert second["prompt_tokens"] < free[1]["prompt_tokens"] - IMAGE_TOKENS
    notes = [
        event["message"]
        for event in events_of(done.stdout)
        if event["event"] == "feedback" and event["kind"] == "context"
    ]
    assert notes == [second["note"]]


def test_replay_check_passes_on_a_run_that_ended_on_a_server_error(server, display, tmp_path):
    out = tmp_path / "runs"
    # The server is pinned to the tiny model: any other model name is refused with HTTP 400.
    done = agent_run(server, display, out, "--max-steps", "2", "--max-retries", "0", model="not-the-served-model")
    assert done.returncode == 1, done.stderr
    (step,) = steps_of(out)
    assert step["error"]["kind"] == "backend", server.log_tail()
    assert "HTTP 400" in step["error"]["message"], server.log_tail()
    assert "pinned" in step["error"]["message"]
    run_dir = only_run_dir(out)
    assert json.loads((run_dir / "run.json").read_text(encoding="utf-8"))["status"] == "error"
    replay = _agent(["replay", str(run_dir), "--check"], display)
    assert replay.returncode == 0, f"{replay.stdout}\n{replay.stderr}"


def _agent(args: list[str], display: XvfbServer) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*agent_command(), *args],
        env=agent_env(display.env()),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def test_a_server_that_ignores_the_structured_output_field_is_recorded_as_such(server, display, tmp_path):
    # transformers serve takes the request, logs "Ignoring unsupported fields" and answers unconstrained.
    # (A constrained Qwen answer in this form needs a cap of 200 tokens: a smaller one is refused before sending.)
    out = tmp_path / "runs"
    agent_run(
        server,
        display,
        out,
        "--max-steps",
        "1",
        "--grammar",
        "--structured-output",
        "openai-json-schema",
        "--max-new-tokens",
        "200",
    )
    (step,) = steps_of(out)
    assert step["serving"]["structured_output"] == "ignored (openai-json-schema)", server.log_tail()
    assert "response_format" in server.log_tail(20000)  # the server's own word that it dropped the field


# -- a server that resizes: the tiny model saved with a smaller max_pixels than the agent's frame ----------

SERVER_MAX_PIXELS = 256 * 28 * 28  # 1316x728 (958,048 pixels) becomes 588x308 on this server
SERVED = (588, 308)


@pytest.fixture(scope="module")
def resizing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersServer]:
    try:
        check_serving_installed()
    except ServeUnavailable as missing:
        pytest.skip(str(missing))
    from tests.support.tiny_qwen import TinyQwenSpec, save_tiny_qwen

    model_dir = save_tiny_qwen(
        tmp_path_factory.mktemp("tiny-qwen-small-pixels"), TinyQwenSpec(max_pixels=SERVER_MAX_PIXELS)
    )
    with TransformersServer(model_dir) as started:
        yield started


def test_step_one_on_a_resizing_server_is_constrained_in_the_servers_frame(resizing_server, display, tmp_path):
    """The grammar bounds points by the frame the model sees, so that frame is measured before step 1's
    request (a one-token probe and its twin go first), not learnt from step 1's reply. (transformers serve
    refuses ``structured_outputs`` and drops ``response_format``: the JSON-schema form reaches it.)"""
    out = tmp_path / "runs"
    done = agent_run(
        resizing_server,
        display,
        out,
        "--max-steps",
        "1",
        "--max-parse-errors",
        "5",
        "--grammar",
        "--structured-output",
        "openai-json-schema",
        "--max-new-tokens",
        "200",
    )
    (step,) = steps_of(out)
    serving = step["serving"]
    assert (serving["frame_check"], serving["server_frame"]) == ("resized", list(SERVED)), done.stderr
    assert serving["server_image_tokens"] == (SERVED[0] // 28) * (SERVED[1] // 28)
    assert serving["grammar_frame"] == list(SERVED)  # step 1's constraint, in the server's frame
    # transformers serve drops the field (its random model answers unconstrained), and says so.
    assert serving["structured_output"] == "ignored (openai-json-schema)"
