"""agent eval steps with scripted answers: recorded runs and AndroidControl-style episodes, scored exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.eval.asking import FrameSettings
from qwen_gui_agent.agent.eval.steps.data import load_step_items
from qwen_gui_agent.agent.eval.steps.question import StepAsker, score
from qwen_gui_agent.agent.runtime.history import History
from qwen_gui_agent.tools.actions import Click, Point, Scroll, Type
from qwen_gui_agent.tools.dialects import PromptContext, get_dialect
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, ScreenGeometry, resize_to_frame
from tests.agent.eval.support import agent_eval, check_html, write_script
from tests.support.run_builders import screen_image, three_step_run

PHONE = (540, 1200)
CAP = 1280 * 28 * 28


def model_xy(x: int, y: int, *, relative: bool = False) -> tuple[int, int]:
    frame = ModelFrame.for_screen(*PHONE, FrameBounds(max_pixels=CAP))
    width, height = (1000, 1000) if relative else (frame.width, frame.height)
    return round(x * width / PHONE[0]), round(y * height / PHONE[1])


def write_episode(folder: Path) -> Path:
    """One phone episode of six steps; step 0 has a target box, the others only a point or none."""
    for number in range(7):
        screen_image(*PHONE, ((40, 100 + 60 * number, 300, 140 + 60 * number),)).save(folder / f"s{number}.png")
    episode = {
        "episode_id": "ep1",
        "goal": "turn on wifi",
        "screenshots": [f"s{number}.png" for number in range(7)],
        "actions": [
            {"action_type": "click", "x": 170, "y": 120},
            {"action_type": "long_press", "x": 100, "y": 500},
            {"action_type": "scroll", "direction": "down"},
            {"action_type": "input_text", "text": "Home WiFi"},
            {"action_type": "open_app", "app_name": "Settings"},
            {"action_type": "navigate_back"},
        ],
        "boxes": [[40, 100, 300, 140], None, None, None, None, None],
    }
    path = folder / "episodes.jsonl"
    path.write_text(json.dumps(episode) + "\n" + '{"episode_id": "ep2", "goal": \n', encoding="utf-8")
    return path


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_episode_steps_are_scored_by_type_place_and_content(tmp_path: Path, relative: bool) -> None:
    path = write_episode(tmp_path)
    tolerance_px = 0.04 * (540**2 + 1200**2) ** 0.5  # about 53 px

    def at(x: int, y: int) -> str:
        return "({},{})".format(*model_xy(x, y, relative=relative))

    answers = [
        f"Action: click(start_box='{at(295, 138)}')",  # inside the box, far from its centre: right
        f"Action: long_press(start_box='{at(100 + int(tolerance_px) + 8, 500)}')",  # past the tolerance: wrong place
        f"Action: scroll(start_box='{at(270, 600)}', direction='down')",  # right
        "Action: type(content='home wifi')",  # the same text but for case: right
        "Action: open_app(app_name='Clock')",  # another app: wrong
        f"Action: click(start_box='{at(10, 10)}')",  # press_back expected: wrong type
    ]
    out = tmp_path / "out"
    coords = ["--coords", "relative"] if relative else []
    result = agent_eval(
        "steps", path, "--script", write_script(tmp_path / "a.json", answers), "--dialect", "uitars", "-o", out, *coords
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    outcomes = [(record["id"], record["outcome"]) for record in document["items"]]
    assert outcomes == [
        ("ep1:0", "hit"),
        ("ep1:1", "wrong_detail"),
        ("ep1:2", "hit"),
        ("ep1:3", "hit"),
        ("ep1:4", "wrong_detail"),
        ("ep1:5", "wrong_type"),
    ]
    summary = document["summary"]
    assert (summary["items"], summary["correct"], summary["errors"]) == (6, 3, 1)
    assert summary["groups"]["action"]["long_press"] == {"items": 1, "correct": 0, "accuracy": 0.0}
    assert [(Path(e["file"]).name, e["line"]) for e in document["errors"]] == [("episodes.jsonl", 2)]
    page = check_html(out / "report.html")
    assert page.tags.count("section") == 3


def test_run_steps_are_asked_with_the_history_the_loop_built(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    loaded = load_step_items([run])
    assert [item.id for item in loaded.items] == ["run:1", "run:2", "run:3"]
    assert loaded.items[0].expected == Click(point=Point(x=640, y=400))  # (644,406) in 1288x812 on 1280x800
    dialect = get_dialect("uitars")
    settings = FrameSettings(frame=FrameBounds(3136, CAP), max_new_tokens=32)
    backend = ScriptedBackend(["Action: finished(content='x')"] * 3)
    asker = StepAsker(backend, dialect, settings)
    for item in loaded.items:
        asker(item)

    # What the agent's loop sends at step 3: the first two answers in its History, their screenshots in the window.
    frame = ModelFrame.for_screen(1280, 800, FrameBounds(max_pixels=CAP))
    image = resize_to_frame(screen_image(1280, 800, ((600, 380, 680, 430), (100, 100, 200, 140))), frame)
    history = History(dialect.info.default_image_history)
    for step in load_step_items([run]).items[0].run.steps[:2]:
        history.add(step.answer, action_text="; ".join(step.actions), image=image, feedback=step.feedback)
    expected = dialect.build_messages(PromptContext(task="sort the files by name", frame=frame), history.steps(), image)
    asked = backend.requests[2]
    assert [message.joined_text() for message in asked] == [message.joined_text() for message in expected]
    assert [len(message.images()) for message in asked] == [len(message.images()) for message in expected]
    assert all(
        a.tobytes() == b.tobytes()
        for m, n in zip(asked, expected, strict=True)
        for a, b in zip(m.images(), n.images(), strict=True)
    )


def test_run_directory_scores_through_the_cli(tmp_path: Path) -> None:
    run = three_step_run(tmp_path / "run")
    frame = ModelFrame.for_screen(1280, 800, FrameBounds(max_pixels=CAP))
    x, y = round(640 * frame.width / 1280), round(400 * frame.height / 800)
    answers = [
        f"Action: click(start_box='({x},{y})')",
        "Action: hotkey(key='ctrl c')",
        "Action: finished(content='ok')",
    ]
    result = agent_eval(
        "steps",
        tmp_path,
        "--script",
        write_script(tmp_path / "a.json", answers),
        "--dialect",
        "uitars",
        "-o",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["summary"]
    assert (summary["items"], summary["correct"], summary["outcomes"]) == (3, 2, {"hit": 2, "wrong_type": 1})
    assert run.is_dir()


def test_score_rules() -> None:
    geometry = ScreenGeometry(300, 400)  # diagonal 500: tolerance 0.1 is 50 px
    assert score(Click(point=Point(x=10, y=10)), Click(point=Point(x=40, y=50)), None, geometry, 0.1)["correct"]
    assert not score(Click(point=Point(x=10, y=10)), Click(point=Point(x=41, y=50)), None, geometry, 0.1)["correct"]
    assert score(Scroll(direction="up"), Scroll(direction="up", point=Point(x=1, y=1)), None, geometry, 0.1)["correct"]
    assert not score(Scroll(direction="up"), Scroll(direction="down"), None, geometry, 0.1)["correct"]
    assert score(Type(text=" Hi "), Type(text="hi"), None, geometry, 0.1)["detail_match"] is True
    wrong = score(Type(text="hi"), Click(point=Point(x=1, y=1)), None, geometry, 0.1)
    assert (wrong["type_match"], wrong["detail_match"], wrong["outcome"]) == (False, None, "wrong_type")
