"""--parallel through the openai backend against a real loopback server: requests overlap, scores stay exact."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path

from PIL import Image

from qwen_gui_agent.tools.frames import FrameBounds
from tests.agent.eval.support import agent_eval, file_order, model_point
from tests.support.make_grounding_set import make_screenspot
from tests.support.model_server import ModelServer, RecordedRequest, Reply

CAP = 1280 * 28 * 28


def test_parallel_requests_overlap_and_each_answer_is_scored_for_its_own_item(tmp_path: Path) -> None:
    data = tmp_path / "data"
    items = make_screenspot(data)
    # The answer for a request is chosen from what it carries (instruction and screen size), so the order the
    # server sees them in does not matter; every third item gets a wrong answer.
    by_key: dict[tuple[str, tuple[int, int]], str] = {}
    hits: set[str] = set()
    for number, item in enumerate(items):
        instruction = json.loads((data / item.file).read_text(encoding="utf-8"))[item.index]["instruction"]
        key = (instruction, item.size)
        assert key not in by_key  # the drawn set keeps these unique, so the lookup is exact
        x, y = model_point(item.centre, item.size, CAP, False)
        by_key[key] = f"({x},{y})" if number % 3 else "(1,1)"
        if number % 3:
            hits.add(item.id)
    # Two requests must be in flight at once: the first two wait for each other (a serial client never gets past).
    # Counted as each answer starts (not from the server's request list, which a third request may already
    # have joined), so exactly two callers meet.
    meeting = threading.Barrier(2, timeout=60)
    arrivals = itertools.count()

    def answer(request: RecordedRequest) -> Reply:
        if next(arrivals) < 2:  # itertools.count is atomic under the GIL
            meeting.wait()
        text = " ".join(request.texts())
        image: Image.Image = request.images()[0]
        (key,) = [k for k in by_key if f"Find this on the screenshot: {k[0]}\n" in text and _same_frame(k[1], image)]
        return Reply.answer(by_key[key])

    with ModelServer() as server:
        server.push(*([answer] * len(items)))
        result = agent_eval(
            "grounding",
            data,
            "--base-url",
            server.base_url,
            "--model",
            "served-qwen",
            "--parallel",
            "4",
            "-o",
            tmp_path / "out",
        )
    assert result.exit_code == 0, result.output
    assert meeting.broken is False and meeting.n_waiting == 0
    document = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert {record["id"] for record in document["items"] if record["correct"]} == hits
    assert [record["id"] for record in document["items"]] == [item.id for item in file_order(items)]  # item order kept


def _same_frame(size: tuple[int, int], image: Image.Image) -> bool:
    from qwen_gui_agent.tools.frames import ModelFrame

    frame = ModelFrame.for_screen(*size, FrameBounds(max_pixels=CAP))
    return image.size == (frame.width, frame.height)
