"""Hostile eval data (issue 22, items 3, 7 and 10): one bad item costs one item, nothing outside the data is read.

Images named by ``../``, absolute or linked paths outside the data folder were read, sent to the model
and embedded in report.html. Deep nesting and huge integers crashed the eval; one bad image (1x5000, a
decompression bomb) or action (x = 1e400) aborted it with no results; boxes holding Infinity, NaN or
booleans were scored (an Infinity box makes every click a hit). ``agent eval steps`` kept a secret the
model repeated in its results and report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.grounding.data import load_grounding_set
from qwen_gui_agent.agent.eval.steps.data import load_step_items
from qwen_gui_agent.agent.records.run_files import FrameRecord, GeometryRecord
from tests.agent.eval.support import agent_eval, file_order, model_point, write_script
from tests.agent.files.test_images import png_claiming
from tests.support.make_grounding_set import make_screenspot
from tests.support.run_builders import add_step, new_writer, screen_image

CAP = 1280 * 28 * 28
SECRET_SIZE = (77, 55)  # the private image's size: no embedded image of the report may have it


def private_image(tmp_path: Path) -> Path:
    path = tmp_path / "private" / "secret.png"
    path.parent.mkdir()
    screen_image(*SECRET_SIZE).save(path)
    return path


def desktop_items(data: Path) -> list[dict]:
    return json.loads((data / "screenspot_desktop_v2.json").read_text(encoding="utf-8"))


def save_desktop(data: Path, entries: list[dict]) -> None:
    (data / "screenspot_desktop_v2.json").write_text(json.dumps(entries, indent=1), encoding="utf-8")


def test_images_outside_the_data_folder_are_data_errors_never_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_screenspot(data)
    secret = private_image(tmp_path)
    (data / "screenspotv2_image" / "alias.png").symlink_to(secret)
    entries = desktop_items(data)
    entries[0]["img_filename"] = "../private/secret.png"
    entries[1]["img_filename"] = str(secret)
    entries[2]["img_filename"] = "alias.png"
    entries[3]["img_filename"] = "sub/../../../private/secret.png"
    save_desktop(data, entries)
    loaded = load_grounding_set(data)
    refused = {problem.item_id: problem.message for problem in loaded.problems}
    assert set(refused) == {f"screenspot_desktop_v2:{n}" for n in range(4)}, refused
    assert all("data folder" in message for message in refused.values()), refused
    assert all(item.image.resolve().is_relative_to(data.resolve()) for item in loaded.items)


def test_an_explicit_images_folder_is_the_boundary(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_screenspot(data)
    private_image(tmp_path)
    entries = desktop_items(data)
    entries[0]["img_filename"] = "../private/secret.png"
    save_desktop(data, entries)
    loaded = load_grounding_set(data / "screenspot_desktop_v2.json", images=data / "screenspotv2_image")
    assert [p.item_id for p in loaded.problems] == ["screenspot_desktop_v2:0"]
    assert "climbs out" in loaded.problems[0].message


def test_episode_screenshots_outside_the_file_folder_are_data_errors(tmp_path: Path) -> None:
    secret = private_image(tmp_path)
    folder = tmp_path / "episodes"
    folder.mkdir()
    screen_image(540, 1200).save(folder / "s0.png")
    episodes = [
        {
            "episode_id": "in",
            "goal": "tap",
            "screenshots": ["s0.png"],
            "actions": [{"action_type": "click", "x": 10, "y": 10}],
        },
        {
            "episode_id": "out",
            "goal": "tap",
            "screenshots": [str(secret)],
            "actions": [{"action_type": "click", "x": 10, "y": 10}],
        },
        {
            "episode_id": "up",
            "goal": "tap",
            "screenshots": ["../private/secret.png"],
            "actions": [{"action_type": "click", "x": 10, "y": 10}],
        },
    ]
    path = folder / "episodes.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in episodes) + "\n", encoding="utf-8")
    loaded = load_step_items([path])
    assert [item.id for item in loaded.items] == ["in:0"]
    assert sorted(p.item_id for p in loaded.problems) == ["out", "up"]


@pytest.mark.parametrize(
    "bbox, words",
    [
        ([0, 0, "Infinity", 900], "finite"),
        ([0, 0, "NaN", 900], "finite"),
        ([True, 0, 50, 50], "four numbers"),
        ([0, 0, "1e400", 900], "finite"),
        ([0, 0, "9" * 5000, 900], "finite"),
    ],
    ids=["Infinity", "NaN", "a boolean", "1e400", "5,000 digits"],
)
def test_a_box_that_is_no_box_is_a_data_error_not_scored(tmp_path: Path, bbox: list, words: str) -> None:
    data = tmp_path / "data"
    make_screenspot(data)
    entries = desktop_items(data)
    entries[0]["bbox"] = "BOX"
    written = "[" + ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in bbox) + "]"
    text = json.dumps(entries, indent=1).replace('"BOX"', written)
    (data / "screenspot_desktop_v2.json").write_text(text, encoding="utf-8")
    loaded = load_grounding_set(data)
    assert [p.item_id for p in loaded.problems] == ["screenspot_desktop_v2:0"], loaded.problems
    assert words in loaded.problems[0].message
    assert len(loaded.items) == len(make_screenspot(tmp_path / "again")) - 1  # every other item is kept


def test_deep_nesting_is_a_data_error_of_its_file_or_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_screenspot(data)
    (data / "screenspot_web_v2.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    (data / "extra.jsonl").write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    loaded = load_grounding_set(data)
    where = {(Path(p.file).name, p.line): p.message for p in loaded.problems}
    assert set(where) == {("screenspot_web_v2.json", 1), ("extra.jsonl", 1)}, where
    assert all("nested more than" in message for message in where.values())
    assert loaded.items  # the other files' items are all there


def test_a_bad_image_costs_its_item_and_the_others_are_scored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    drawn = file_order(make_screenspot(data))
    entries = desktop_items(data)
    screen_image(1, 5000).save(data / "screenspotv2_image" / "thin.png")  # an aspect ratio no frame can hold
    (data / "screenspotv2_image" / "bomb.png").write_bytes(png_claiming(100_000, 100_000))
    entries[0]["img_filename"], entries[1]["img_filename"] = "thin.png", "bomb.png"
    save_desktop(data, entries)
    bad = {f"screenspot_desktop_v2:{n}" for n in (0, 1)}
    good = [item for item in drawn if item.id not in bad]
    answers = ["({},{})".format(*model_point(item.centre, item.size, CAP, False)) for item in good]
    out = tmp_path / "out"
    result = agent_eval("grounding", data, "--script", write_script(tmp_path / "a.json", answers), "-o", out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {error["id"] for error in document["errors"]} == bad
    assert document["summary"]["correct"] == len(good)


def test_an_action_past_a_float_costs_its_episode(tmp_path: Path) -> None:
    folder = tmp_path / "episodes"
    folder.mkdir()
    screen_image(540, 1200).save(folder / "s0.png")
    lines = [
        (
            '{"episode_id": "big", "goal": "tap", "screenshots": ["s0.png"], '
            '"actions": [{"action_type": "click", "x": 1e400, "y": 10}]}'
        ),
        (
            '{"episode_id": "huge", "goal": "tap", "screenshots": ["s0.png"], '
            '"actions": [{"action_type": "click", "x": ' + "9" * 5000 + ', "y": 10}]}'
        ),
        json.dumps(
            {
                "episode_id": "fine",
                "goal": "tap",
                "screenshots": ["s0.png"],
                "actions": [{"action_type": "click", "x": 10, "y": 10}],
            }
        ),
    ]
    for name, text in (("episodes.jsonl", "\n".join(lines) + "\n"), ("episodes.json", "[" + ",\n".join(lines) + "]")):
        (folder / name).write_text(text, encoding="utf-8")
        loaded = load_step_items([folder / name])
        assert [item.id for item in loaded.items] == ["fine:0"], name
        assert sorted(p.item_id for p in loaded.problems) == ["big", "huge"], name
        (folder / name).unlink()


def secret_run(directory: Path) -> Path:
    writer = new_writer(directory, task="log in with {{secret:PW}}")
    add_step(
        writer,
        1,
        image=screen_image(1280, 800),
        geometry=GeometryRecord(width=1280, height=800),
        frame=FrameRecord(width=1288, height=812),
        answer="Action: type(content='{{secret:PW}}')",
        actions=["type(content='{{secret:PW}}')"],
    )
    add_step(
        writer,
        2,
        image=screen_image(1280, 800),
        geometry=GeometryRecord(width=1280, height=800),
        frame=FrameRecord(width=1288, height=812),
        answer="Action: click(start_box='(640,400)')",
        actions=["click(start_box='(640,400)')"],
    )
    writer.close()
    return directory


def test_eval_steps_redacts_a_secret_the_model_repeats(tmp_path: Path) -> None:
    run = secret_run(tmp_path / "run")
    password = "hunter2-Pa55 w0rd"
    answers = [
        f"Thought: the field shows {password}\nAction: type(content='{password}')",
        f"Thought: I will type {password} again\nAction: type(content='{password}')",
    ]  # a miss: in the report
    out = tmp_path / "out"
    result = agent_eval(
        "steps", run, "--script", str(write_script(tmp_path / "a.json", answers)), "-o", out, env={"PW": password}
    )
    assert result.exit_code == 0, result.output
    for path in out.iterdir():
        assert "hunter2" not in path.read_text(encoding="utf-8"), path.name
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    typed, missed = document["items"]
    assert "{{secret:PW}}" in typed["answer"] and typed["correct"], typed  # the repeated value typed the placeholder
    assert not missed["correct"] and "{{secret:PW}}" in (out / "report.html").read_text(encoding="utf-8")
    assert "hunter2" not in result.output
