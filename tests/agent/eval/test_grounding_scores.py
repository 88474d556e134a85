"""agent eval grounding on the drawn data set with scripted answers: every score, group count and miss is known."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from PIL import Image

from qwen_gui_agent.tools.actions import Point
from qwen_gui_agent.tools.frames import MAX_PIXELS, FrameBounds, ModelFrame, ScreenGeometry, to_input_point
from tests.agent.eval.support import agent_eval, check_html, file_order, model_point, outside_point, write_script
from tests.support.make_grounding_set import DrawnItem, make_screenspot, make_screenspot_pro

CAP = 1280 * 28 * 28  # the default --max-pixels
PATTERN = ("hit", "miss", "hit", "garbage", "hit")  # what the script answers for item n (cycling)


def scripted_answers(items: list[DrawnItem], *, relative: bool, form: str = "point") -> tuple[list[str], set[str]]:
    """One answer per item in asking order, and the ids that must count as hits."""
    answers, hits = [], set()
    for number, item in enumerate(file_order(items)):
        plan = PATTERN[number % len(PATTERN)]
        if plan == "garbage":
            answers.append("I do not see that element anywhere.")
            continue
        x, y = model_point(item.centre if plan == "hit" else outside_point(item), item.size, CAP, relative)
        if plan == "hit":
            hits.add(item.id)
        if form == "action":
            answers.append(f"Thought: there it is\nAction: click(start_box='({x},{y})')")
        elif number % 2:
            answers.append(f'```json\n[{{"bbox_2d": [{x - 2}, {y - 2}, {x + 2}, {y + 2}], "label": "it"}}]\n```')
        else:
            answers.append(f"({x},{y})")
    return answers, hits


def expected_groups(items: list[DrawnItem], hits: set[str], main: str) -> dict[str, dict[str, dict]]:
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for item in items:
        keys = {**item.groups, f"{main}/ui_type": f"{item.groups[main]}/{item.groups['ui_type']}"}
        for key, value in keys.items():
            counts[key][value][0] += item.id in hits
            counts[key][value][1] += 1
    return {
        key: {
            value: {"items": total, "correct": correct, "accuracy": round(correct / total, 6)}
            for value, (correct, total) in sorted(values.items())
        }
        for key, values in counts.items()
    }


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
@pytest.mark.parametrize("layout", ["screenspot", "screenspot-pro"])
def test_scores_groups_and_misses_are_exact(tmp_path: Path, layout: str, relative: bool) -> None:
    data = tmp_path / "data"
    items = make_screenspot(data) if layout == "screenspot" else make_screenspot_pro(data)
    answers, hits = scripted_answers(items, relative=relative)
    script = write_script(tmp_path / "answers.json", answers)
    out = tmp_path / "out"
    coords = ["--coords", "relative"] if relative else []
    result = agent_eval("grounding", data, "--script", script, "-o", out, *coords)
    assert result.exit_code == 0, result.output

    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    summary = document["summary"]
    assert (summary["items"], summary["correct"], summary["errors"]) == (len(items), len(hits), 0)
    assert summary["accuracy"] == round(len(hits) / len(items), 6)
    garbage = sum(PATTERN[n % len(PATTERN)] == "garbage" for n in range(len(items)))
    assert summary["outcomes"] == {"hit": len(hits), "miss": len(items) - len(hits) - garbage, "unparsed": garbage}
    main = "platform" if layout == "screenspot" else "group"
    assert summary["groups"] == expected_groups(items, hits, main)
    assert document["misses"] == [item.id for item in file_order(items) if item.id not in hits]
    for record in document["items"]:  # every click is where the script put it, mapped back to the screenshot
        drawn = next(item for item in items if item.id == record["id"])
        assert record["box"] == [float(v) for v in drawn.box]
        if record["id"] in hits:
            assert abs(record["point"][0] - drawn.centre[0]) <= 2 and abs(record["point"][1] - drawn.centre[1]) <= 2
    page = check_html(out / "report.html")
    assert page.tags.count("section") == len(document["misses"])  # one drawing per miss
    assert page.tags.count("rect") == len(document["misses"])


def test_action_prompt_through_the_uitars_dialect(tmp_path: Path) -> None:
    items = make_screenspot(tmp_path / "data")
    answers, hits = scripted_answers(items, relative=False, form="action")
    script = write_script(tmp_path / "answers.json", answers)
    result = agent_eval(
        "grounding",
        tmp_path / "data",
        "--script",
        script,
        "--dialect",
        "uitars",
        "--prompt",
        "action",
        "-o",
        tmp_path / "out",
    )
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert document["summary"]["correct"] == len(hits)
    assert {r["id"] for r in document["items"] if r["correct"]} == hits


def test_a_box_edge_counts_as_inside_and_one_pixel_past_it_does_not(tmp_path: Path) -> None:
    """At Qwen's own cap 1280x800 is shown at 1288x812, so every screenshot pixel has a model point mapping onto it."""
    data = tmp_path / "data"
    items = file_order([item for item in make_screenspot(data) if item.file == "screenspot_desktop_v2.json"])
    (data / "screenspot_mobile_v2.json").unlink()
    (data / "screenspot_web_v2.json").unlink()
    frame = ModelFrame.for_screen(1280, 800, FrameBounds(max_pixels=MAX_PIXELS))
    geometry = ScreenGeometry(1280, 800)

    def model_x(screen_x: int) -> int:
        return next(x for x in range(frame.width + 1) if to_input_point(Point(x=x, y=0), frame, geometry).x == screen_x)

    answers, expected = [], []
    for number, item in enumerate(items):
        x1, y1, x2, y2 = item.box
        y = round((y1 + y2) / 2 * frame.height / 800)
        edge = [x1, x1 - 1, x2, x2 + 1][number % 4]
        answers.append(f"({model_x(edge)},{y})")
        expected.append(edge in (x1, x2))
    result = agent_eval(
        "grounding",
        data,
        "--script",
        write_script(tmp_path / "a.json", answers),
        "-o",
        tmp_path / "o",
        "--max-pixels",
        str(MAX_PIXELS),
    )
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))["items"]
    assert [record["correct"] for record in records] == expected


def test_a_qwen3_grounding_box_is_read_over_1000_as_its_prompt_says(tmp_path: Path) -> None:
    """A box centred at 995 thousandths of a 2000-pixel-wide screen is at x=1990; read over 999 it is at 1992."""
    data = tmp_path / "data"
    (data / "screenspotv2_image").mkdir(parents=True)
    Image.new("RGB", (2000, 1000), "white").save(data / "screenspotv2_image" / "wide.png")
    entries = [
        {
            "img_filename": "wide.png",
            "bbox": [1989, 495, 2, 10],
            "instruction": "the thin bar",
            "data_type": "icon",
            "data_source": "drawn",
        }
    ]  # x from 1989 to 1991
    (data / "screenspot_desktop_v2.json").write_text(json.dumps(entries), encoding="utf-8")
    script = write_script(tmp_path / "answers.json", ['[{"bbox_2d": [990, 495, 1000, 505], "label": "bar"}]'])
    result = agent_eval(
        "grounding", data, "--script", script, "--dialect", "qwen3", "--coords", "relative", "-o", tmp_path / "out"
    )
    assert result.exit_code == 0, result.output
    (record,) = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["items"]
    assert record["point"] == [1990, 500] and record["correct"], record
