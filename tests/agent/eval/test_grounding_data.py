"""Reading the published layouts: a corrupt line, a missing image or a bad box is an error with its file and line."""

from __future__ import annotations

import json
from pathlib import Path

from qwen_gui_agent.agent.eval.grounding.data import load_grounding_set
from qwen_gui_agent.agent.eval.items import Box, DataFileError, json_records
from tests.agent.eval.support import agent_eval, check_html, file_order, model_point, write_script
from tests.support.make_grounding_set import make_screenspot, make_screenspot_pro

CAP = 1280 * 28 * 28


def test_items_keep_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n {"a": 1},\n\n {"b": [1,\n 2]}, {"c": 3}\n]\n', encoding="utf-8")
    assert list(json_records(path)) == [(2, {"a": 1}), (4, {"b": [1, 2]}), (5, {"c": 3})]


def test_a_broken_array_names_the_line_where_it_breaks(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n {"a": 1},\n {"b": oops}\n]\n', encoding="utf-8")
    records = json_records(path)
    assert next(records) == (2, {"a": 1})
    try:
        next(records)
    except DataFileError as error:
        assert (error.file, error.line) == (path, 3)
    else:
        raise AssertionError("the broken item was read")


def test_both_bbox_layouts_become_the_same_pixel_box(tmp_path: Path) -> None:
    drawn = {item.id: item for item in [*make_screenspot(tmp_path / "s"), *make_screenspot_pro(tmp_path / "p")]}
    spot, pro = load_grounding_set(tmp_path / "s"), load_grounding_set(tmp_path / "p")
    assert not spot.problems and not pro.problems
    assert len(spot.items) + len(pro.items) == len(drawn)
    for item in [*spot.items, *pro.items]:
        assert item.box == Box(*(float(v) for v in drawn[item.id].box))
        assert item.image.is_file()
    assert {item.groups["platform"] for item in spot.items} == {"mobile", "desktop", "web"}
    assert {item.groups["group"] for item in pro.items} == {"Dev", "Creative"}


def test_bad_lines_and_missing_images_are_errors_not_crashes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    items = make_screenspot(data)
    # The mobile file as JSON Lines with a corrupt line 2 and an item without instruction on line 4.
    mobile = json.loads((data / "screenspot_mobile_v2.json").read_text(encoding="utf-8"))
    lines = [
        json.dumps(mobile[0]),
        '{"img_filename": "mobile_0.png", "bbox": [1, 2,',
        json.dumps(mobile[1]),
        json.dumps({**mobile[2], "instruction": ""}),
        json.dumps(mobile[3]),
    ]
    (data / "screenspot_mobile_v2.json").unlink()
    (data / "screenspot_mobile_v2.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The web file's second item points at an image that is not there, its third has a bad box.
    web = json.loads((data / "screenspot_web_v2.json").read_text(encoding="utf-8"))
    web[1]["img_filename"] = "gone.png"
    web[2]["bbox"] = [10, 10, -5, 3]
    (data / "screenspot_web_v2.json").write_text(json.dumps(web, indent=1), encoding="utf-8")
    web_lines = [
        n for n, line in enumerate((data / "screenspot_web_v2.json").read_text().split("\n"), 1) if line == " {"
    ]

    usable = [
        i
        for i in file_order(items)
        if i.file == "screenspot_desktop_v2.json"
        or (i.file.startswith("screenspot_mobile") and i.index in (0, 1, 3))
        or (i.file == "screenspot_web_v2.json" and i.index == 0)
    ]
    answers = [
        f"({model_point(i.centre, i.size, CAP, False)[0]},{model_point(i.centre, i.size, CAP, False)[1]})"
        for i in usable
    ]
    out = tmp_path / "out"
    result = agent_eval("grounding", data, "--script", write_script(tmp_path / "a.json", answers), "-o", out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    where = {(Path(error["file"]).name, error["line"]) for error in document["errors"]}
    assert where == {
        ("screenspot_mobile_v2.jsonl", 2),
        ("screenspot_mobile_v2.jsonl", 4),
        ("screenspot_web_v2.json", web_lines[1]),
        ("screenspot_web_v2.json", web_lines[2]),
    }
    messages = " ".join(error["message"] for error in document["errors"])
    assert "not valid JSON" in messages and "gone.png not found" in messages and "instruction" in messages
    assert document["summary"]["errors"] == 4
    assert document["summary"]["items"] == document["summary"]["correct"] == len(usable)
    assert "screenspot_mobile_v2.jsonl:2" in result.output.replace("\n", "")
    check_html(out / "report.html")


def test_an_unreadable_image_is_an_error_and_is_tried_again_next_time(tmp_path: Path) -> None:
    data = tmp_path / "data"
    items = file_order(make_screenspot_pro(data))
    broken_image = data / items[0].image
    original = broken_image.read_bytes()
    broken_image.write_bytes(b"not a png")
    broken = [item for item in items if item.image == items[0].image]
    assert 0 < len(broken) < len(items)

    def answers_for(chosen: list) -> Path:
        points = [model_point(item.centre, item.size, CAP, False) for item in chosen]
        return write_script(tmp_path / "a.json", [f"({x},{y})" for x, y in points])

    out = tmp_path / "out"
    result = agent_eval("grounding", data, "--script", answers_for([i for i in items if i not in broken]), "-o", out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert [(e["id"], Path(e["file"]).name) for e in document["errors"]] == [
        (item.id, Path(item.file).name) for item in broken
    ]
    assert all(e["line"] > 1 and "cannot read image" in e["message"] for e in document["errors"])
    assert len((out / "results.jsonl").read_text().splitlines()) == len(items) - len(broken)  # errors not stored

    broken_image.write_bytes(original)  # fixed: the next run asks only for those
    result = agent_eval("grounding", data, "--script", answers_for(broken), "-o", out)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text(encoding="utf-8"))["summary"]
    assert (summary["items"], summary["correct"], summary["errors"]) == (len(items), len(items), 0)
