"""Grammar-constrained decoding: the grammars, the chunk forward, and answers that always parse (tiny model, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_gui_agent.agent.backends.grammar.rules import GrammarSpec, ebnf, int_up_to
from qwen_gui_agent.tools.actions import Click, Drag, Finished, Hotkey, Point, Scroll, Swipe, Type, Wait
from qwen_gui_agent.tools.dialects.qwen import QwenDialect
from qwen_gui_agent.tools.dialects.uitars import UITarsDialect
from qwen_gui_agent.tools.frames import ModelFrame
from qwen_gui_agent.tools.messages import Message
from tests.agent.backends.local.conftest import chat, noise_image

xgr = pytest.importorskip("xgrammar")
from xgrammar.testing import _is_grammar_accept_string as accepts  # noqa: E402 - after the importorskip above


def grammar(spec: GrammarSpec):
    return xgr.Grammar.from_ebnf(ebnf(spec))


@settings(max_examples=40, deadline=None)
@given(limit=st.integers(0, 20000), number=st.integers(0, 30000))
def test_int_up_to_accepts_exactly_0_to_limit(limit: int, number: int) -> None:
    rule = xgr.Grammar.from_ebnf("root ::= " + int_up_to(limit))
    assert accepts(rule, str(number)) == (number <= limit)
    assert not accepts(rule, "0" + str(number))  # no leading zeros


@pytest.mark.parametrize("device", ["computer", "mobile"])
@pytest.mark.parametrize(
    "action",
    [
        Click(point=Point(x=0, y=727)),
        Type(text='say "hi"', submit=True),
        Hotkey(keys=("ctrl", "c")),
        Scroll(direction="down", amount=5, point=Point(x=5, y=6)),
        Wait(seconds=3),
        Finished(status="failure"),
        Drag(start=Point(x=1, y=2), end=Point(x=1316, y=728)),
        Swipe(start=Point(x=1, y=2), end=Point(x=3, y=4)),
    ],
)
def test_qwen_grammar_accepts_the_calls_the_dialect_writes(action, device) -> None:
    call = QwenDialect().format_call(action, device)
    if not call.startswith("{"):
        pytest.skip(f"{device} has no Qwen call for {action.action}")
    assert accepts(grammar(GrammarSpec("qwen", 1316, 728)), f"<tool_call>\n{call}\n</tool_call>")


def test_grammars_reject_points_outside_the_frame_and_unknown_actions() -> None:
    qwen = grammar(GrammarSpec("qwen", 1316, 728))
    click = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [%d, %d]}}\n</tool_call>'
    assert accepts(qwen, click % (1316, 728))
    assert not accepts(qwen, click % (1317, 10)) and not accepts(qwen, click % (10, 729))
    assert not accepts(qwen, click.replace("left_click", "explode") % (1, 1))
    uitars = grammar(GrammarSpec("uitars", 300, 200))
    assert accepts(uitars, "Thought: go.\nAction: click(start_box='(300,200)')")
    assert not accepts(uitars, "Thought: go.\nAction: click(start_box='(301,200)')")
    assert accepts(uitars, "Thought: done\nAction: finished(content='it\\'s booked')")
    assert not accepts(uitars, "Thought: two\nlines\nAction: wait()")


def test_spec_names() -> None:
    assert GrammarSpec.from_name("qwen-relative", 300, 200) == GrammarSpec("qwen", 1000, 1000)
    assert GrammarSpec.from_name("uitars", 300, 200) == GrammarSpec("uitars", 300, 200)
    with pytest.raises(ValueError):
        GrammarSpec.from_name("json", 300, 200)


def test_grammar_needs_greedy_decoding() -> None:
    from pydantic import ValidationError

    from qwen_gui_agent.agent.backends.settings import BackendSettings

    with pytest.raises(ValidationError):
        BackendSettings(grammar="qwen", temperature=0.7)


def test_a_chunk_forward_equals_feeding_the_tokens_one_by_one(tiny) -> None:
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions
    from qwen_gui_agent.agent.backends.local.fastpath.grammar_decode import chunk_step

    model, processor = tiny
    inputs = processor(text=[chat(processor)], images=[noise_image(420, 280)], return_tensors="pt")
    forced = [5, 17, 33, 40]
    with torch.inference_mode():
        chunked = FastPath(model, processor)
        first = chunked.generate(inputs, 3, GreedyOptions(min_new_tokens=3)).tokens
        graph = next(reversed(chunked._graphs.values()))
        chunk_step(chunked.text, graph, [first[-1], *forced])
        stepped = FastPath(model, processor)
        stepped.generate(inputs, 3, GreedyOptions(min_new_tokens=3))
        reference = next(reversed(stepped._graphs.values()))
        reference.step()  # feeds first[-1]
        for token in forced:
            reference.state.token.fill_(token)
            reference.step()
    assert graph.length == reference.length
    torch.testing.assert_close(graph.state.logits, reference.state.logits, rtol=1e-5, atol=1e-5)
    for layer in (0, len(graph.state.keys) - 1):
        torch.testing.assert_close(
            graph.state.keys[layer][:, :, : graph.length],
            reference.state.keys[layer][:, :, : graph.length],
            rtol=1e-5,
            atol=1e-5,
        )
    assert int(graph.state.token) == int(reference.state.token)


@pytest.fixture(scope="module")
def backends(tiny_dir: Path):
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend

    made = {}
    for name in ("qwen", "uitars"):
        made[name] = create_backend(
            BackendSettings(
                kind="local", model=str(tiny_dir), source="local", torch_device="cpu", max_new_tokens=160, grammar=name
            )
        )
    yield made
    for backend in made.values():
        backend.close()


@pytest.mark.parametrize("dialect", ["qwen", "uitars"])
@pytest.mark.parametrize("size,seed", [((420, 280), 0), ((280, 588), 1), ((336, 336), 2), ((616, 336), 3)])
def test_every_answer_of_random_weights_parses(backends, dialect, size, seed) -> None:
    parser = QwenDialect() if dialect == "qwen" else UITarsDialect()
    answer = backends[dialect].complete(
        [
            Message.text("system", "You operate a device."),
            Message(role="user", parts=(noise_image(*size, seed=seed), "Open the mail.")),
        ],
        wants_action=True,
    )
    parsed = parser.parse(answer.text, ModelFrame(*answer.seen_frame))
    assert len(parsed.actions) == 1
    timings = answer.timings
    assert timings["forced_tokens"] > 0  # at least the fixed opening is never decoded
    free = answer.usage.completion_tokens - timings["forced_tokens"]
    assert timings["decode_steps"] + timings["chunks"] == free - 1  # the first free token comes from the prefill


def test_questions_that_are_not_for_an_action_stay_unconstrained(backends) -> None:
    # Grounding boxes and yes/no verdicts go through the same backend: the grammar must not force them
    # into an action. Unconstrained, the random weights answer with no forced tokens at all.
    answer = backends["qwen"].complete([Message(role="user", parts=(noise_image(420, 280, seed=5), "Is it open?"))])
    assert "forced_tokens" not in answer.timings


def test_an_answer_cut_short_is_closed_and_still_parses(tiny_dir: Path) -> None:
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend

    backend = create_backend(
        BackendSettings(
            kind="local", model=str(tiny_dir), source="local", torch_device="cpu", max_new_tokens=40, grammar="uitars"
        )
    )
    try:
        answers = [
            backend.complete([Message(role="user", parts=(noise_image(420, 280, seed=s), "Go on."))], wants_action=True)
            for s in range(4)
        ]
    finally:
        backend.close()
    for answer in answers:
        assert answer.usage.completion_tokens <= 40
        UITarsDialect().parse(answer.text, ModelFrame(*answer.seen_frame))


def test_fast_preprocessing_gives_the_processors_inputs(tiny_dir: Path) -> None:
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend

    messages = [Message(role="user", parts=(noise_image(420, 280, seed=3), "Click the search button."))]
    prepared = {}
    for fast in (False, True):
        backend = create_backend(
            BackendSettings(kind="local", model=str(tiny_dir), source="local", torch_device="cpu", fast=fast)
        )
        try:
            prepared[fast] = backend._preprocess(messages)[0]
        finally:
            backend.close()
    assert isinstance(prepared[True], dict) and not isinstance(prepared[False], dict)  # the fast path made it
    for key in ("input_ids", "pixel_values", "image_grid_thw"):
        assert torch.equal(prepared[True][key].cpu(), prepared[False][key].cpu())
