"""The `query` task step: its schema words, the variables later steps use, and replay of what it recorded."""

from __future__ import annotations

import io
import json

import pytest
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.replay.check import check_run
from qwen_gui_agent.agent.runtime.progress import RichEvents
from qwen_gui_agent.agent.runtime.queries import extract_json
from qwen_gui_agent.tasks.answer_types import answer_type
from qwen_gui_agent.tasks.loader import TaskFileError, parse_task
from qwen_gui_agent.tasks.variables import VariableError, fill
from qwen_gui_agent.tools.actions import Type
from tests.support.doubles import MemoryDevice
from tests.support.still_screen import record_run

BOOKING = """
name: read the price, then use it
steps:
  - query: What does the first flight cost, and what is its number?
    save_as: flight
    schema: {number: string, price: number}
  - type: "{{var:flight.number}} at {{var:flight.price}}"
  - do: "type(content='{{var:flight.number}}')"
  - assert: the basket shows {{var:flight.price}}
"""


def test_a_query_saves_a_variable_that_later_steps_fill_in(run_with):
    device = MemoryDevice()
    answers = ['{"number": "MU5101", "price": "1280"}', "yes, it shows 1280"]
    result, backend, _ = run_with(answers, task=parse_task(BOOKING, {}), device=device)
    assert result.status == "success", result.message
    # The schema turned "1280" into a number, so it reads 1280 in the steps that use it.
    assert device.executed == [Type(text="MU5101 at 1280"), Type(text="MU5101")]
    assert "Statement: the basket shows 1280" in backend.requests[1][-1].parts[-1]
    steps = load_run(result.run_dir).steps
    assert [step.kind for step in steps] == ["query", "type", "do", "assert"]
    assert steps[0].value == {"number": "MU5101", "price": "1280"} and steps[1].actions == [
        "type(content='MU5101 at 1280')"
    ]


def test_a_value_with_quotes_stays_one_text_in_a_do_step(run_with):
    device = MemoryDevice()
    spec = parse_task(
        """
steps:
  - query: Who is the traveller?
    save_as: who
  - do: "type(content='Dear {{var:who}}')"
""",
        {},
    )
    result, _, _ = run_with(['"O\'Brien, \\"Pat\\""'], task=spec, device=device)
    assert result.status == "success", result.message
    assert device.executed == [Type(text='Dear O\'Brien, "Pat"')]


def test_a_field_the_answer_lacks_fails_the_step_that_uses_it(run_with):
    spec = parse_task(
        """
steps:
  - query: List the flights
    save_as: flights
    schema: [string]
  - type: "{{var:flights.3}}"
""",
        {},
    )
    result, _, _ = run_with(['["CA1", "MU2"]'], task=spec)
    assert result.status == "failure"
    assert "flights has no field or item '3'" in result.message


def test_a_query_that_never_fits_its_schema_fails_the_run(run_with):
    spec = parse_task("steps: [{query: How many seats are left, save_as: seats, schema: integer}]", {})
    result, backend, _ = run_with(["a few", "some", "many", "lots"], task=spec)
    assert result.status == "failure" and "How many seats are left" in result.message
    assert len(backend.requests) == 4  # the first answer and three fed back (max_parse_errors)
    (step,) = load_run(result.run_dir).steps
    assert step.error.kind == "parse" and step.value == "lots"


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            "steps: [{type: '{{var:price}}'}, {query: the price, save_as: price}]",
            "1:16: steps[0].type: {{var:price}} is used before a query step saves it",
        ),
        ("steps: [{query: the price, save_as: 2price}]", "steps[0].save_as: '2price' is not a variable name"),
        (
            "steps: [{query: the price, save_as: p, schema: {a: [numbr]}}]",
            "steps[0].schema: a[0]: 'numbr' is not a type",
        ),
        ("steps: [{query: the price}]", "missing required field `save_as`"),
    ],
)
def test_the_loader_says_where_a_query_or_variable_is_wrong(text, problem):
    with pytest.raises(TaskFileError) as raised:
        parse_task(text, {})
    assert problem in str(raised.value)


def test_secrets_and_environment_placeholders_do_not_clash_with_variables():
    spec = parse_task(
        """
env: {CITY: Shanghai}
steps:
  - query: price to ${CITY}?
    save_as: price
  - type: "{{secret:PIN}} {{var:price}} $${CITY}"
""",
        {},
    )
    assert spec.steps[0].query == "price to Shanghai?"
    assert spec.steps[1].with_variables({"price": 3}).type == "{{secret:PIN}} 3 ${CITY}"


@pytest.mark.parametrize(
    "spec, answer, expected",
    [
        ("number", 3.5, 3.5),
        ("number", "12", 12),
        ("integer?", None, None),
        (["boolean"], ["yes", False], [True, False]),
        ({"seat": "string", "row": "integer"}, {"seat": "C", "row": "12"}, {"seat": "C", "row": 12}),
    ],
)
def test_schema_words_become_types(spec, answer, expected):
    adapter = TypeAdapter(answer_type(spec))
    assert adapter.dump_python(adapter.validate_python(answer), mode="json") == expected


def test_schema_words_reject_what_does_not_fit():
    with pytest.raises(ValidationError):
        TypeAdapter(answer_type({"row": "integer"})).validate_python({"seat": "C"})


@pytest.mark.parametrize(
    "answer, expected",
    [
        ('{"a": 1}', {"a": 1}),
        ("```json\n[1, 2]\n```", [1, 2]),
        ('<think>the price is at the top</think>{"price": 3}', {"price": 3}),
        ('The answer is {"price": 3} as shown.', {"price": 3}),
        ("Shanghai", "Shanghai"),
        ("42", 42),
    ],
)
def test_extract_json_reads_the_forms_models_answer_in(answer, expected):
    assert extract_json(answer) == expected


def test_fill_renders_values_as_text():
    values = {"s": "plain", "n": 3, "b": True, "o": {"k": [1, "x"]}}
    assert fill("{{var:s}} {{var:n}} {{var:b}} {{ var:o.k.1 }} {{var:o}}", values) == 'plain 3 true x {"k": [1, "x"]}'
    with pytest.raises(VariableError, match="no query has saved the variable 'missing'"):
        fill("{{var:missing}}", values)


def test_replay_check_rereads_a_query_and_catches_a_changed_record(tmp_path):
    spec = parse_task(
        """
steps:
  - query: What is the price?
    save_as: price
    schema: number
  - type: "{{var:price}}"
""",
        {},
    )
    result = record_run(tmp_path, ["The price is:\n```json\n1280\n```"], task=spec)
    assert result.status == "success", result.message
    run = load_run(result.run_dir)
    checks = check_run(run).checks
    assert [(check.kind, check.passed, check.skipped) for check in checks] == [("query", True, ""), ("type", True, "")]

    lines = (result.run_dir / "steps.jsonl").read_text().splitlines()
    step = json.loads(lines[0])
    assert step["value"] == 1280
    step["value"] = 1200
    (result.run_dir / "steps.jsonl").write_text("\n".join([json.dumps(step), *lines[1:]]) + "\n")
    (failed,) = check_run(load_run(result.run_dir)).failures
    assert failed.kind == "query" and "reads as different JSON" in failed.problems[0]


def test_the_console_shows_what_a_query_read():
    buffer = io.StringIO()
    RichEvents(Console(file=buffer, width=200, color_system=None)).emit(
        "query", {"question": "price?", "value": {"price": 1280, "note": "[bold]"}}
    )
    assert 'answer {"price": 1280, "note": "[bold]"}' in buffer.getvalue()


@pytest.mark.parametrize(
    "hostile, words",
    [
        ("[" * 5000 + "]" * 5000, "nested more than 32 levels deep"),
        ('{"seats": ' + "9" * 5000 + "}", "an integer of 5,000 digits"),
        ("[" * 40 + "]" * 40, "nested more than 32 levels deep"),  # json reads it; the run folder's reader would not
    ],
    ids=["5,000 deep", "5,000 digits", "40 deep"],
)
def test_a_hostile_json_answer_is_fed_back_and_the_run_stays_readable(run_with, hostile, words):
    # A value the query reader took was recorded as the step's value: the run folder must stay readable by the
    # bounded reader (report, replay, export), so the query reader holds answers to the same bounds.
    spec = parse_task("steps: [{query: How many seats are left, save_as: seats}]", {})
    result, backend, _ = run_with([hostile, '"three"'], task=spec)
    assert result.status == "success", result.message
    assert words in backend.requests[1][-1].parts[-1]  # the problem went back to the model
    (step,) = load_run(result.run_dir).steps
    assert step.value == "three"
    assert check_run(load_run(result.run_dir)).ok
