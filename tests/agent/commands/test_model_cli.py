"""``agent parse --model`` and ``agent models``: the registry chooses dialect, coordinates and frame from the model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.commands import models as models_command
from qwen_gui_agent.agent.commands import parse as parse_command
from qwen_gui_agent.tools.models import FAMILY_NAMES
from tests.support.cli import single_group_app


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    def register(group: typer.Typer) -> None:
        parse_command.register(group)
        models_command.register(group)

    return single_group_app(register)


def invoke(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, list(args))


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def call(arguments: dict, name: str = "computer_use") -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


QWEN3_ANSWER = "Thought: the OK button closes it\nAction: click OK\n" + call(
    {"action": "left_click", "coordinate": [500, 500]}
)


def test_qwen3_vl_by_name_reads_thousandths_of_999_in_a_factor_32_frame(app):
    result = invoke(app, "parse", QWEN3_ANSWER, "--model", "Qwen/Qwen3-VL-8B-Instruct", "--screen", "1920x1080")
    assert result.exit_code == 0, result.output
    [record] = records(result.stdout)
    # smart_resize at factor 32: 1080 -> 1088; 500/999 of 1920x1080 = (960.96, 540.54), rounded half up.
    assert record["frame"] == "1920x1088" and (record["x"], record["y"]) == (961, 541)


def test_qwen3_far_edge_is_the_last_pixel(app):
    answer = call({"action": "left_click", "coordinate": [999, 999]})
    result = invoke(app, "parse", answer, "--model", "Qwen/Qwen3-VL-8B-Instruct", "--screen", "1920x1080")
    assert result.exit_code == 0, result.output
    assert [(r["x"], r["y"]) for r in records(result.stdout)] == [(1919, 1079)]


def test_qwen35_xml_call_and_a_phone_answer_without_device_flag(app):
    answer = (
        "<think>The app list is open.</think>\nThought: open it\nAction: tap Settings\n<tool_call>\n"
        "<function=mobile_use>\n<parameter=action>\nclick\n</parameter>\n<parameter=coordinate>\n[250, 750]\n"
        "</parameter>\n</function>\n</tool_call>"
    )
    result = invoke(app, "parse", answer, "--model", "Qwen/Qwen3.5-27B", "--screen", "1080x2400")
    assert result.exit_code == 0, result.output
    [record] = records(result.stdout)
    # 250/999 of 1080 = 270.27, 750/999 of 2400 = 1801.8: read for a phone (mobile_use), no -d needed.
    assert record["action"] == "click" and (record["x"], record["y"]) == (270, 1802)


def test_gui_owl_divides_by_1000(app):
    answer = "Action: click OK\n" + call({"action": "left_click", "coordinate": [500, 500]})
    result = invoke(app, "parse", answer, "--model", "mPLUG/GUI-Owl-1.5-8B-Instruct", "--screen", "1920x1080")
    assert result.exit_code == 0, result.output
    assert [(r["x"], r["y"]) for r in records(result.stdout)] == [(960, 540)]


def test_qwen3_answer_action_ends_the_task(app):
    answer = "Thought: found it\nAction: report the total\n" + call({"action": "answer", "text": "42 €"})
    result = invoke(app, "parse", answer, "--model", "Qwen/Qwen3-VL-8B-Instruct", "--screen", "1920x1080")
    assert result.exit_code == 0, result.output
    [record] = records(result.stdout)
    assert record["action"] == "answer" and "42 €" in record["text"]


def test_a_local_directory_is_matched_by_its_config(app, tmp_path: Path):
    model_dir = tmp_path / "checkpoint-1200"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "qwen3_vl"}))
    result = invoke(app, "parse", QWEN3_ANSWER, "--model", str(model_dir), "--screen", "1920x1080")
    assert result.exit_code == 0, result.output
    assert [(r["frame"], r["x"]) for r in records(result.stdout)] == [("1920x1088", 961)]
    why = invoke(app, "models", str(model_dir), "--json")
    assert why.exit_code == 0, why.output
    [record] = records(why.stdout)
    assert record["family"] == "qwen3-vl" and "model_type 'qwen3_vl'" in record["why"]


def test_an_unknown_model_is_a_clear_error_naming_dialect(app):
    result = invoke(app, "parse", QWEN3_ANSWER, "--model", "acme/screen-pilot-9b", "--screen", "1920x1080")
    assert result.exit_code == 2
    assert "acme/screen-pilot-9b" in result.output and "--dialect" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_model_with_a_dialect_is_read_in_that_dialects_frame(app):
    result = invoke(
        app, "parse", QWEN3_ANSWER, "--model", "acme/screen-pilot-9b", "--dialect", "qwen3", "--screen", "1920x1080"
    )
    assert result.exit_code == 0, result.output
    assert [(r["frame"], r["x"], r["y"]) for r in records(result.stdout)] == [("1920x1088", 961, 541)]


def test_coords_overrides_the_registry(app):
    answer = call({"action": "left_click", "coordinate": [500, 500]})
    result = invoke(
        app, "parse", answer, "--model", "Qwen/Qwen3-VL-8B-Instruct", "--coords", "absolute", "--screen", "1920x1080"
    )
    assert result.exit_code == 0, result.output
    # Pixels of the 1920x1088 frame: 500 * 1080 / 1088 = 496.3.
    assert [(r["x"], r["y"]) for r in records(result.stdout)] == [(500, 496)]


def test_models_lists_every_family(app):
    result = invoke(app, "models", "--json")
    assert result.exit_code == 0, result.output
    listed = {record["family"]: record for record in records(result.stdout)}
    assert tuple(listed) == FAMILY_NAMES
    assert (listed["qwen3-vl"]["dialect"], listed["qwen3-vl"]["patch_factor"]) == ("qwen3", 32)
    assert listed["qwen2.5-vl"]["fast_path"] is True and listed["qwen3-vl"]["fast_path"] is True
    assert listed["qwen2-vl"]["fast_path"] is False and listed["qwen3.5"]["fast_path"] is False
    table = invoke(app, "models")
    assert table.exit_code == 0 and all(name in table.stdout for name in FAMILY_NAMES)


@pytest.mark.parametrize(
    ("model", "family", "matched"),
    [
        ("Qwen/Qwen3-VL-8B-Instruct", "qwen3-vl", "Qwen3-VL"),
        ("mPLUG/GUI-Owl-1.5-8B-Instruct", "gui-owl-1.5", "GUI-Owl-1.5"),
        ("7b", "qwen2.5-vl", "Qwen2.5-VL"),
    ],
)
def test_models_says_which_family_and_why(app, model, family, matched):
    result = invoke(app, "models", model)
    assert result.exit_code == 0, result.output
    assert f"family: {family}" in result.stdout and f"contains '{matched}'" in result.stdout


def test_models_with_an_unknown_model_exits_2_naming_dialect(app):
    result = invoke(app, "models", "acme/screen-pilot-9b")
    assert result.exit_code == 2 and "--dialect" in result.output
