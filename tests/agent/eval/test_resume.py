"""An eval stopped half way resumes where it stopped and never asks the model again for what is done."""

from __future__ import annotations

import json
from pathlib import Path

from qwen_gui_agent.agent.eval.results_log import ResultsLog
from tests.agent.eval.support import agent_eval, file_order, model_point, write_script
from tests.support.make_grounding_set import make_screenspot

CAP = 1280 * 28 * 28


def centre_answers(items) -> list[str]:
    return ["({},{})".format(*model_point(item.centre, item.size, CAP, False)) for item in items]


def test_a_failed_backend_keeps_what_finished_and_the_next_run_asks_only_the_rest(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    items = file_order(make_screenspot(data))
    answers = centre_answers(items)
    # The script runs dry after 4 answers: the backend fails (exit 1) with 4 results kept.
    first = agent_eval("grounding", data, "--script", write_script(tmp_path / "a.json", answers[:4]), "-o", out)
    assert first.exit_code == 1, first.output
    assert "run the same command again to resume" in first.output
    kept = (out / "results.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in kept] == [item.id for item in items[:4]]
    # The rest of the answers only: were any done item asked again, the script would hand it a wrong answer
    # and run dry before the end.
    second = agent_eval("grounding", data, "--script", write_script(tmp_path / "b.json", answers[4:]), "-o", out)
    assert second.exit_code == 0, second.output
    assert f"4 of {len(items)} item(s) already done" in second.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["summary"]["correct"] == document["summary"]["items"] == len(items)
    assert (out / "results.jsonl").read_text(encoding="utf-8").splitlines()[:4] == kept


def test_a_line_cut_short_by_a_kill_is_asked_again(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    items = file_order(make_screenspot(data))
    answers = centre_answers(items)
    assert (
        agent_eval(
            "grounding", data, "--script", write_script(tmp_path / "a.json", answers[:3]), "-o", out, "--limit", "3"
        ).exit_code
        == 0
    )
    log = out / "results.jsonl"
    log.write_text(log.read_text(encoding="utf-8")[:-25], encoding="utf-8")  # the third line loses its end
    assert set(ResultsLog(out).load()) == {items[0].id, items[1].id}
    result = agent_eval("grounding", data, "--script", write_script(tmp_path / "b.json", answers[2:]), "-o", out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["summary"]["correct"] == len(items)


def test_results_of_other_settings_are_never_resumed(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    items = file_order(make_screenspot(data))
    script = write_script(tmp_path / "a.json", centre_answers(items))
    assert agent_eval("grounding", data, "--script", script, "-o", out, "--limit", "2").exit_code == 0
    other = agent_eval("grounding", data, "--script", script, "-o", out, "--max-pixels", "640*28*28")
    assert other.exit_code == 2
    assert "other settings" in other.output and "max_pixels" in other.output
    fresh = agent_eval("grounding", data, "--script", script, "-o", out, "--max-pixels", "640*28*28", "--fresh")
    assert fresh.exit_code == 0, fresh.output
    assert len((out / "results.jsonl").read_text(encoding="utf-8").splitlines()) == len(items)
