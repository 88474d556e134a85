"""The goal loop with a scripted model and an in-memory test device: every way a run can end."""

from __future__ import annotations

import json
import time

import pytest

from qwen_gui_agent.agent.backends.base import Completion
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.records.run_files import load_run
from qwen_gui_agent.agent.runtime.console import UserChannel
from qwen_gui_agent.agent.runtime.runner import RunParts, execute_run
from qwen_gui_agent.agent.runtime.secrets import Secrets
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.devices.errors import DeviceDisconnected
from qwen_gui_agent.tasks.schema import Task
from qwen_gui_agent.tools.actions import Click, Point, Type
from qwen_gui_agent.tools.canonical import format_action
from qwen_gui_agent.tools.dialects import get_dialect
from tests.support.doubles import CollectedEvents, MemoryDevice, TerminalInput

# The 800x600 test screen is shown to the model as 812x588 (smart_resize): model (406,294) is screen (400,300).
CLICK_CENTRE = "Thought: the button is in the middle\nAction: click(start_box='(406,294)')"
CLICK_LEFT = "Thought: now the left one\nAction: click(start_box='(203,147)')"
DONE = "Thought: all set\nAction: finished(content='booked')"


def test_success_maps_points_and_records_every_step(run_with):
    device = MemoryDevice()
    result, backend, events = run_with([CLICK_CENTRE, CLICK_LEFT, DONE], device=device)
    assert (result.status, result.message, result.exit_code, result.steps) == ("success", "booked", 0, 3)
    assert device.executed == [Click(point=Point(x=400, y=300)), Click(point=Point(x=200, y=150))]

    run = load_run(result.run_dir)
    assert run.info.status == "success" and run.info.steps == 3 and run.info.ended_at
    assert [step.index for step in run.steps] == [1, 2, 3]
    first = run.steps[0]
    assert first.actions == ["click(start_box='(406,294)')"]
    assert first.executed[0].action == "click(start_box='(400,300)')"
    assert first.executed[0].commands == ["memory click(start_box='(400,300)')"]
    assert (first.frame.width, first.frame.height) == (812, 588)
    assert (first.geometry.width, first.geometry.height) == (800, 600)
    assert first.thought == "the button is in the middle"
    assert {"capture", "model", "parse", "execute", "total"} <= first.timings_ms.keys()
    for step in run.steps:
        assert (result.run_dir / step.screenshot).is_file()
    # The model saw the screen resized to its frame.
    assert backend.requests[0][-1].images()[0].size == (812, 588)
    assert [e["index"] for e in events.named("step")] == [1, 2, 3]
    assert events.named("run_finished")[0]["run_dir"] == str(result.run_dir)


def test_the_model_may_declare_failure(run_with):
    result, _, _ = run_with(["Action: finished(content='no flights that day', status='failure')"])
    assert (result.status, result.message, result.exit_code) == ("failure", "no flights that day", 1)


def test_same_action_on_an_unchanged_screen_ends_as_stuck(run_with):
    device = MemoryDevice(react=MemoryDevice.no_change)
    result, _, _ = run_with([CLICK_CENTRE] * 5, device=device, stuck_after=3)
    assert result.status == "stuck" and result.exit_code == 1
    assert len(device.executed) == 2  # the third identical click is not sent
    run = load_run(result.run_dir)
    assert run.steps[-1].note.startswith("stuck")
    assert "3 times" in run.info.message


def test_repeating_an_action_that_changes_the_screen_is_not_stuck(run_with):
    result, _, _ = run_with([CLICK_CENTRE, CLICK_LEFT, CLICK_CENTRE, CLICK_LEFT, DONE])
    assert result.status == "success"


def test_parse_errors_are_fed_back_then_the_run_goes_on(run_with):
    answers = ["I think I should click", "Action: fly(to='moon')", "Action: click(start_box='(5000,5)')", DONE]
    result, backend, events = run_with(answers, max_parse_errors=3)
    assert result.status == "success"
    feedback = [e["message"] for e in events.named("feedback")]
    assert len(feedback) == 3
    # Each error reached the model in its next prompt.
    for number, message in enumerate(feedback, start=1):
        prompt = "\n".join(m.joined_text() for m in backend.requests[number])
        assert message in prompt
    run = load_run(result.run_dir)
    assert [step.error.kind if step.error else None for step in run.steps] == ["parse", "parse", "parse", None]


def test_too_many_bad_answers_in_a_row_end_the_run(run_with):
    result, backend, _ = run_with(["nonsense"] * 10, max_parse_errors=2)
    assert result.status == "failure" and "3 unusable answers" in result.message
    assert len(backend.requests) == 3
    run = load_run(result.run_dir)
    assert run.steps[-1].error.kind == "parse"


def test_a_good_answer_resets_the_bad_answer_count(run_with):
    answers = ["bad", "bad", CLICK_CENTRE, "bad", "bad", DONE]
    result, _, _ = run_with(answers, max_parse_errors=2)
    assert result.status == "success"


def test_an_action_the_device_lacks_is_fed_back(run_with):
    device = MemoryDevice(unsupported=("press_home",))
    result, backend, events = run_with(["Action: press_home()", DONE], device=device)
    assert result.status == "success"
    assert "press_home does not exist" in events.named("feedback")[0]["message"]
    assert "press_home does not exist" in "\n".join(m.joined_text() for m in backend.requests[1])


def test_step_budget(run_with):
    result, _, _ = run_with([CLICK_CENTRE, CLICK_LEFT, CLICK_CENTRE], max_steps=2)
    assert result.status == "budget" and result.exit_code == 1 and result.steps == 2


def test_time_budget(run_with):
    # A device whose clicks take a while: the second step starts past the budget.
    def slow(device, action):
        time.sleep(0.3)

    result, _, _ = run_with([CLICK_CENTRE, CLICK_LEFT, DONE], device=MemoryDevice(react=slow), timeout_s=0.2)
    assert result.status == "budget" and "time budget" in result.message and result.steps == 1


def test_call_user_without_a_terminal_needs_the_user(run_with):
    result, _, events = run_with(["Action: call_user(content='Which date do you want?')"])
    assert (result.status, result.exit_code) == ("needs_user", 3)
    assert result.message == "Which date do you want?"
    assert events.named("question")[0]["question"] == "Which date do you want?"
    assert load_run(result.run_dir).info.status == "needs_user"


def test_call_user_at_a_terminal_sends_the_answer_back(run_with):
    user = UserChannel(stdin=TerminalInput("next Friday\n"))
    result, backend, _ = run_with(["Action: call_user(content='Which date?')", DONE], user=user)
    assert result.status == "success"
    assert "The user answered: next Friday" in "\n".join(m.joined_text() for m in backend.requests[1])


def test_a_terminal_that_closes_before_answering_needs_the_user(run_with):
    user = UserChannel(stdin=TerminalInput(""))
    result, _, _ = run_with(["Action: call_user(content='Which date?')"], user=user)
    assert (result.status, result.message) == ("needs_user", "Which date?")
    result, _, _ = run_with([CLICK_CENTRE], user=UserChannel(stdin=TerminalInput("")), confirm=True)
    assert result.status == "interrupted"


def test_device_failure_ends_the_run_as_error_with_the_step_recorded(run_with):
    device = MemoryDevice(fail_on=lambda action: DeviceDisconnected("the phone went away", hint="reconnect it"))
    result, _, _ = run_with([CLICK_CENTRE], device=device)
    assert result.status == "error" and "the phone went away" in result.message
    step = load_run(result.run_dir).steps[0]
    assert step.error.kind == "device" and "reconnect it" in step.error.message
    assert step.actions == ["click(start_box='(406,294)')"]


def test_backend_failure_ends_the_run_as_error(run_with):
    result, _, _ = run_with([CLICK_CENTRE])  # the script runs out at step 2
    assert result.status == "error" and "holds 1 answers" in result.message
    assert load_run(result.run_dir).steps[1].error.kind == "backend"


def test_ctrl_c_saves_the_run_as_interrupted(run_with):
    device = MemoryDevice(fail_on=lambda action: KeyboardInterrupt() if action.points()[0].x == 200 else None)
    result, _, _ = run_with([CLICK_CENTRE, CLICK_LEFT, DONE], device=device)
    assert result.status == "interrupted"
    run = load_run(result.run_dir)
    assert run.info.status == "interrupted" and [s.note for s in run.steps] == ["", "interrupted"]


def test_dry_run_plans_without_executing(run_with):
    device = MemoryDevice()
    result, _, _ = run_with([CLICK_CENTRE, DONE], device=device, dry_run=True)
    assert result.status == "success" and device.executed == []
    executed = load_run(result.run_dir).steps[0].executed[0]
    assert executed.dry_run and executed.commands == ["memory click(start_box='(400,300)')"]


def test_uitars_prompt_carries_recent_screenshots_and_qwen_only_the_current(run_with):
    answers = [CLICK_CENTRE, CLICK_LEFT, CLICK_CENTRE, DONE]
    _, backend, _ = run_with(answers, dialect="uitars", image_history=2)
    counts = [sum(len(m.images()) for m in request) for request in backend.requests]
    assert counts == [1, 2, 2, 2]
    qwen_answers = [
        (
            '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [406, 294]}}'
            "</tool_call>"
        ),
        '<tool_call>{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}</tool_call>',
    ]
    result, backend, _ = run_with(qwen_answers, dialect="qwen")
    assert result.status == "success"
    assert [sum(len(m.images()) for m in request) for request in backend.requests] == [1, 1]


def test_confirm_yes_no_edit_quit(run_with):
    device = MemoryDevice()
    # yes to the first, no to the second (fed back), edit the third, then quit at the fourth.
    keys = "y\nn\ne\nclick(start_box='(609,441)')\nq\n"
    result, backend, _ = run_with(
        [CLICK_CENTRE, CLICK_LEFT, CLICK_LEFT, CLICK_CENTRE],
        device=device,
        confirm=True,
        user=UserChannel(stdin=TerminalInput(keys)),
    )
    assert device.executed == [Click(point=Point(x=400, y=300)), Click(point=Point(x=600, y=450))]
    assert "declined" in "\n".join(m.joined_text() for m in backend.requests[2])
    assert result.status == "interrupted" and "confirmation" in result.message
    steps = load_run(result.run_dir).steps
    notes = [step.note for step in steps]
    assert notes[1].startswith("declined by the user: click(") and notes[0] == ""
    # The step records what ran (the edit), and says the model chose otherwise.
    assert steps[2].actions == ["click(start_box='(609,441)')"]
    assert notes[2] == "edited by the user: click(start_box='(203,147)') -> click(start_box='(609,441)')"


def test_confirm_without_a_terminal_is_an_error(run_with):
    result, _, _ = run_with([CLICK_CENTRE], confirm=True)
    assert result.status == "error" and "terminal" in result.message


def test_secret_reaches_only_the_device(run_with, tmp_path):
    device = MemoryDevice()
    answers = ["Thought: type the password\nAction: type(content='{{secret:PASSWORD}}\\n')", DONE]
    result, backend, events = run_with(
        answers,
        device=device,
        secrets=Secrets({"PASSWORD": "Tr0ub4dor&3"}),
        task="log in with password {{secret:PASSWORD}}",
    )
    assert device.executed == [Type(text="Tr0ub4dor&3", submit=True)]
    for request in backend.requests:
        assert "Tr0ub4dor&3" not in "".join(m.joined_text() for m in request)
    for path in result.run_dir.rglob("*"):
        assert b"Tr0ub4dor&3" not in path.read_bytes()
    assert "Tr0ub4dor&3" not in json.dumps(events.events)
    step = load_run(result.run_dir).steps[0]
    assert step.executed[0].commands == ["memory type(content='{{secret:PASSWORD}}\\n')"]


def test_unknown_secret_is_fed_back(run_with):
    result, _, events = run_with(["Action: type(content='{{secret:NOPE}}')", DONE])
    assert result.status == "success"
    assert "unknown secret NOPE" in events.named("feedback")[0]["message"]


@pytest.mark.parametrize("answer", ["Action: wait()", "Action: hotkey(key='ctrl c')"])
def test_actions_without_points_run(run_with, answer):
    device = MemoryDevice()
    result, _, _ = run_with([answer, DONE], device=device)
    assert result.status == "success" and len(device.executed) == 1


def test_points_are_read_in_the_frame_the_backend_says_the_model_saw(tmp_path):
    """A server that resized our image again: the answer's points are in what the model really saw."""

    class ResizingBackend(ScriptedBackend):
        def complete(self, messages, *, max_new_tokens=None, wants_action=False):
            answer = super().complete(messages, max_new_tokens=max_new_tokens)
            return Completion(text=answer.text, seen_frame=(406, 294))  # half our 812x588 frame

    device = MemoryDevice()
    parts = RunParts(
        task=Task.from_goal("click"),
        device=device,
        dialect=get_dialect("uitars"),
        backend=ResizingBackend(["Action: click(start_box='(203,147)')", DONE]),
        settings=LoopSettings(settle_s=0),
        events=CollectedEvents(),
        out_dir=tmp_path,
        write_report=False,
    )
    result = execute_run(parts)
    assert result.status == "success"
    assert device.executed == [Click(point=Point(x=400, y=300))]
    step = load_run(result.run_dir).steps[0]
    assert (step.frame.width, step.frame.height) == (406, 294) and "406x294" in step.note


def test_secret_the_driver_escapes_is_not_recorded_in_any_encoding(run_with):
    # Drivers escape what they type (here: the canonical quoting of a quote and a backslash), so the
    # recorded commands must come from the placeholder, not from redacting the driver's own text.
    value = "it's a \\secret"
    escaped = format_action(Type(text=value))  # type(content='it\'s a \\secret')
    device = MemoryDevice()
    answers = ["Action: type(content='{{secret:PASSWORD}}')", DONE]
    result, _, events = run_with(answers, device=device, secrets=Secrets({"PASSWORD": value}))
    assert device.executed == [Type(text=value)]
    for path in result.run_dir.rglob("*"):
        data = path.read_bytes()
        assert value.encode() not in data and escaped[len("type(content='") : -2].encode() not in data
    shown = json.dumps(events.events, ensure_ascii=False)
    assert "it's a" not in shown and "it\\'s a" not in shown and "\\secret" not in shown


def test_failure_while_typing_a_secret_does_not_quote_the_driver_message(run_with):
    value = "hunter2 with spaces"

    def fail_quoting_the_encoded_text(action):  # as adb's `input text` wants it: spaces as %s
        if isinstance(action, Type):
            return DeviceDisconnected(f"adb gave up on: input text '{action.text.replace(' ', '%s')}'")
        return None

    device = MemoryDevice(fail_on=fail_quoting_the_encoded_text)
    result, _, _ = run_with(
        ["Action: type(content='{{secret:PASSWORD}}')"], device=device, secrets=Secrets({"PASSWORD": value})
    )
    assert result.status == "error" and "typing a secret failed (DeviceDisconnected)" in result.message
    for path in result.run_dir.rglob("*"):
        assert b"hunter2" not in path.read_bytes()


def test_short_secret_does_not_rewrite_recorded_structure(run_with):
    # Blanket replacement of the value "a" would turn start_box into st{{secret:PW}}rt_box and the kind
    # "parse" into "p{{secret:PW}}rse": corrupt records that also reveal the value.
    answers = [CLICK_CENTRE, "Action: type(content='{{secret:PW}}')", DONE]
    result, _, events = run_with(answers, secrets=Secrets({"PW": "a"}))
    steps = load_run(result.run_dir).steps
    assert [step.kind for step in steps] == ["ai", "ai", "ai"]
    assert steps[0].actions == ["click(start_box='(406,294)')"]
    assert steps[0].executed[0].action == "click(start_box='(400,300)')"
    assert steps[1].executed[0].commands == ["memory type(content='{{secret:PW}}')"]
    assert events.named("step")[0]["actions"] == ["click(start_box='(406,294)')"]


def test_answer_with_an_unusable_second_action_runs_none_of_them(run_with):
    device = MemoryDevice(unsupported=("swipe",))
    answers = ["Action: click(start_box='(406,294)')\n\nswipe(start_box='(10,10)', end_box='(10,200)')", DONE]
    result, _, events = run_with(answers, device=device)
    assert device.executed == []  # the click did not run: the model was told the answer was not used
    assert "swipe does not exist" in events.named("feedback")[0]["message"]
    assert result.status == "success"


def test_unexpected_error_is_recorded_on_the_step_it_broke(run_with):
    device = MemoryDevice(fail_on=lambda action: RuntimeError("driver bug") if isinstance(action, Click) else None)
    result, _, _ = run_with([CLICK_CENTRE], device=device)
    assert result.status == "error"
    (step,) = load_run(result.run_dir).steps
    assert step.error is not None and step.error.kind == "internal" and "driver bug" in step.error.message


def test_run_records_the_image_window_replay_rebuilds_prompts_with(run_with):
    result, _, _ = run_with([DONE], dialect="qwen", image_history=3)
    assert load_run(result.run_dir).info.frame_settings["history_images"] == 3
    result, _, _ = run_with([DONE], dialect="uitars")
    assert load_run(result.run_dir).info.frame_settings["history_images"] == 5  # the dialect's default


def test_only_ai_steps_ask_for_an_action_answer(tmp_path):
    """A backend that can constrain answers to the action format must do so for ai steps only."""
    asked: list[bool] = []

    class RecordingBackend(ScriptedBackend):
        def complete(self, messages, *, max_new_tokens=None, wants_action=False):
            asked.append(wants_action)
            return super().complete(messages, max_new_tokens=max_new_tokens)

    spec = Task.model_validate(
        {"steps": [{"ai": "book it"}, {"assert": "it is booked"}, {"tap": "the confirm button"}]}
    )
    answers = [DONE, "yes, it is", "Action: click(start_box='(406,294)')"]
    parts = RunParts(
        task=spec,
        device=MemoryDevice(),
        dialect=get_dialect("uitars"),
        backend=RecordingBackend(answers),
        settings=LoopSettings(settle_s=0),
        events=CollectedEvents(),
        out_dir=tmp_path,
        write_report=False,
    )
    assert execute_run(parts).status == "success"
    assert asked == [True, False, False]


def test_two_actions_taking_turns_on_an_unchanged_screen_end_as_stuck(run_with):
    device = MemoryDevice(react=MemoryDevice.no_change)
    result, _, _ = run_with([CLICK_CENTRE, CLICK_LEFT] * 5, device=device, stuck_after=3)
    assert result.status == "stuck" and result.exit_code == 1
    assert len(device.executed) == 5  # the sixth step would start a fourth round: it is not sent
    assert "came round 3 times" in load_run(result.run_dir).info.message


def test_a_click_nudged_one_pixel_at_a_time_ends_as_stuck(run_with):
    device = MemoryDevice(react=MemoryDevice.no_change)
    answers = [f"Action: click(start_box='({400 + n},{300 + n})')" for n in range(5)]
    result, _, _ = run_with(answers, device=device, stuck_after=3)
    assert result.status == "stuck" and len(device.executed) == 2


def test_a_secret_the_model_repeats_is_recorded_and_sent_back_as_its_placeholder(run_with):
    value = "Tr0ub4dor&3 horse"
    answers = [f"Thought: the field shows {value}, I will type it again\nAction: type(content='{value}')", DONE]
    device = MemoryDevice()
    result, backend, events = run_with(answers, device=device, secrets=Secrets({"PASSWORD": value}))
    assert result.status == "success"
    assert device.executed[0] == Type(text=value)  # what the model meant still reaches the device
    assert "the field shows {{secret:PASSWORD}}" in "".join(message.joined_text() for message in backend.requests[1])
    for request in backend.requests:
        assert value not in "".join(message.joined_text() for message in request)
    for path in result.run_dir.rglob("*"):
        assert value.encode() not in path.read_bytes()
    assert value not in json.dumps(events.events, ensure_ascii=False)
    step = load_run(result.run_dir).steps[0]
    assert "{{secret:PASSWORD}}" in step.answer and "{{secret:PASSWORD}}" in step.thought


def test_a_runaway_answer_is_cut_once_and_says_so(run_with):
    runaway = "Thought: " + "very " * 200_000 + "\nAction: wait()"  # about a megabyte
    result, backend, _ = run_with([runaway, DONE], max_answer_chars=20_000)
    assert result.status == "success"
    step = load_run(result.run_dir).steps[0]
    assert len(step.answer) < 20_100 and step.answer.endswith(
        f"[answer cut: {len(runaway):,} characters, the first 20,000 kept]"
    )
    assert step.error is not None and step.error.kind == "parse"  # a cut answer is never read as if whole
    sent_back = "".join(message.joined_text() for message in backend.requests[1])
    assert "very " * 3000 in sent_back and "very " * 4001 not in sent_back  # the cut answer, not the whole one
    assert sum(path.stat().st_size for path in result.run_dir.rglob("*")) < 200_000


def _qwen_call(arguments: dict) -> str:
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": arguments}) + "\n</tool_call>"


@pytest.mark.parametrize(
    "dialect, hostile, done",
    [
        (
            "qwen",
            [
                _qwen_call({"action": "scroll", "coordinate": [10, 10], "pixels": 10**400}),
                '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": '
                + "[" * 976
                + "10, 10"
                + "]" * 976
                + "}}\n</tool_call>",
            ],
            _qwen_call({"action": "terminate", "status": "success"}),
        ),
        (
            "uitars",
            [
                "Action: scroll(start_box='(10,10)', direction='down', amount=1" + "0" * 400 + ")",
                "Action: click(start_box='" + "[" * 976 + "10, 10" + "]" * 976 + "')",
            ],
            DONE,
        ),
    ],
    ids=["qwen", "uitars"],
)
def test_a_huge_number_or_deep_nesting_goes_back_to_the_model(run_with, dialect, hostile, done):
    # Issue 16, item 3: these ended in an OverflowError or RecursionError (an internal error) instead.
    device = MemoryDevice()
    result, backend, _ = run_with([*hostile, done], device=device, dialect=dialect, max_parse_errors=3)
    assert result.status == "success" and device.executed == []
    steps = load_run(result.run_dir).steps
    assert [step.error.kind if step.error else None for step in steps] == ["parse", "parse", None]
    assert len(backend.requests) == 3  # each error was shown to the model, which went on
