"""Every answer a server constrains with our grammar ends inside its token cap (issue 26, item 1).

A server (vLLM, SGLang) applies the grammar token by token with xgrammar and stops at ``max_tokens``.
Unbounded, the UI-TARS thought let a model that never writes its newline run to the cap, and the
answer never parsed (a real vLLM 0.32 did exactly that with the tiny random model). These tests do
what such a server does -- xgrammar's mask at every step, greedy, special tokens never allowed --
with the tiny random Qwen2.5-VL, and with adversaries that never end a free text by choice and pick
the longest or the shortest token the mask allows (a 4-byte character then costs 4 tokens).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_gui_agent.agent.backends.grammar.budget import (
    AnswerCapTooSmall,
    fixed_bytes,
    longest_answer_tokens,
    text_limits,
)
from qwen_gui_agent.agent.backends.grammar.regex_form import answer_fit
from qwen_gui_agent.agent.backends.grammar.rules import GrammarSpec, ebnf
from qwen_gui_agent.tools.dialects.qwen import QwenDialect
from qwen_gui_agent.tools.dialects.uitars import UITarsDialect
from qwen_gui_agent.tools.frames import ModelFrame

xgr = pytest.importorskip("xgrammar")

PARSERS = {"qwen": QwenDialect(), "uitars": UITarsDialect()}
# The tokens an adversary avoids inside free text: each could end it (or open an escape that does).
ENDINGS = (b"\n", b"\r", b"'", b'"', b"\\")
# Where each dialect's free text starts and how the answer goes on once the grammar ends that text.
WALKS = {
    "uitars": ("Thought: ", "\nAction: type(content='", "')"),
    "qwen": ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", "text": "', '"}}\n</tool_call>'),
}


def test_the_fixed_part_is_the_widest_call_with_empty_text() -> None:
    widest_uitars = "Thought: \nAction: drag(start_box='(1316,728)', end_box='(1316,728)')"
    assert fixed_bytes(GrammarSpec("uitars", 1316, 728)) == len(widest_uitars)
    # Qwen: a key chord of four of the longest key names is wider than any call with points.
    keys = ", ".join(['"printscreen"'] * 4)
    widest_qwen = (
        f'<tool_call>\n{{"name": "computer_use", "arguments": {{"action": "key", "keys": [{keys}]}}}}\n</tool_call>'
    )
    assert fixed_bytes(GrammarSpec("qwen", 1316, 728)) == len(widest_qwen)


@settings(max_examples=60, deadline=None)
@given(
    dialect=st.sampled_from(["qwen", "uitars"]),
    width=st.integers(28, 12000),
    height=st.integers(28, 12000),
    unit=st.sampled_from(["tokens", "chars"]),
    extra=st.integers(0, 4000),
)
def test_the_limits_fit_the_answer_inside_every_cap_that_can_hold_it(dialect, width, height, unit, extra) -> None:
    spec = GrammarSpec(dialect, width, height)
    with pytest.raises(AnswerCapTooSmall) as small:
        text_limits(spec, 1, unit)
    needed = small.value.needed
    with pytest.raises(AnswerCapTooSmall):
        text_limits(spec, needed - 1, unit)
    cap = needed + extra
    bounded = dataclasses.replace(spec, limits=text_limits(spec, cap, unit))
    assert longest_answer_tokens(bounded) <= cap


# -- an adversary against xgrammar, on the tiny tokenizer's vocabulary ---------------------------------------


@pytest.fixture(scope="module")
def tokenizer(tiny_qwen_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen_dir)


@pytest.fixture(scope="module")
def compiler(tokenizer: Any) -> Any:
    return xgr.GrammarCompiler(xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer)))


def _longest(candidates: list[tuple[int, bytes]]) -> int:
    return max(candidates, key=lambda item: (len(item[1]), item[0]))[0]


def _shortest(candidates: list[tuple[int, bytes]]) -> int:
    # One byte at a time, and the bytes that open the widest characters first (0xF0.. opens 4 bytes).
    return min(candidates, key=lambda item: (len(item[1]), -item[1][0], item[0]))[0]


def adversarial_answer(
    compiler: Any, tokenizer: Any, spec: GrammarSpec, pick: Callable[[list[tuple[int, bytes]]], int]
) -> tuple[str, int]:
    """The answer an adversary writes inside ``spec``'s grammar, and its tokens (end-of-turn included).

    The fixed parts go in as text and count one token per byte (the most they can cost); inside each free
    text the adversary takes the token ``pick`` chooses among those the mask allows that do not end it, until
    the grammar allows no such token."""
    matcher = xgr.GrammarMatcher(compiler.compile_grammar(ebnf(spec)), terminate_without_stop_token=True)
    vocab = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer)).decoded_vocab
    banned = set(tokenizer.all_special_ids)
    mask = xgr.allocate_token_bitmask(1, len(vocab))
    *free_starts, ending = WALKS[spec.dialect]
    pieces, tokens = [], 1  # the end-of-turn token a server adds once the grammar is complete
    for fixed in free_starts:
        assert matcher.accept_string(fixed), fixed
        pieces.append(fixed)
        tokens += len(fixed.encode())
        written: list[int] = []
        while True:
            matcher.fill_next_token_bitmask(mask)
            candidates = [
                (token, vocab[token])
                for token in _allowed(mask, len(vocab))
                if token not in banned and vocab[token] and not any(end in vocab[token] for end in ENDINGS)
            ]
            if not candidates:
                break
            token = pick(candidates)
            assert matcher.accept_token(token)
            written.append(token)
        pieces.append(tokenizer.decode(written))
        tokens += len(written)
    assert matcher.accept_string(ending) and matcher.is_terminated(), "".join(pieces)
    tokens += len(ending.encode())
    return "".join(pieces) + ending, tokens


def _allowed(mask: Any, size: int) -> list[int]:
    """The token ids xgrammar's bitmask allows (bit j of word i: token 32 * i + j)."""
    import torch

    bits = (mask[0].unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return bits.view(-1)[:size].nonzero().view(-1).tolist()


@pytest.mark.parametrize("pick", [_longest, _shortest], ids=["longest", "shortest"])
@pytest.mark.parametrize("unit", ["tokens", "chars"])
@pytest.mark.parametrize("dialect", ["uitars", "qwen"])
def test_an_adversary_cannot_push_a_constrained_answer_past_its_cap(compiler, tokenizer, dialect, unit, pick) -> None:
    cap = 220
    spec = GrammarSpec(dialect, 1316, 728)
    spec = dataclasses.replace(spec, limits=text_limits(spec, cap, unit))
    answer, tokens = adversarial_answer(compiler, tokenizer, spec, pick)
    assert tokens <= cap, answer
    assert answer_fit(spec, answer) == "whole"
    assert len(PARSERS[dialect].parse(answer, ModelFrame(1316, 728)).actions) == 1
    # The free text did run to its limit: it was the grammar that ended it, not the adversary.
    free = answer.split("Thought: ")[1].split("\n")[0] if dialect == "uitars" else answer.split('"text": "')[1]
    assert len(free.encode()) >= (spec.limits.thought if dialect == "uitars" else spec.limits.text)


# -- the tiny random model, constrained as a server constrains it ---------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tiny_qwen_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

    return Qwen2_5_VLForConditionalGeneration.from_pretrained(tiny_qwen_dir).eval(), AutoProcessor.from_pretrained(
        tiny_qwen_dir
    )


def served_answer(model: Any, processor: Any, spec: GrammarSpec, cap: int, seed: int) -> tuple[str, int, bool]:
    """Greedy decoding inside ``spec``'s grammar with xgrammar's mask at every step, as vLLM does: the answer,
    its tokens, and whether the grammar ended it (else the cap did)."""
    import torch
    from transformers import LogitsProcessorList

    from qwen_gui_agent.agent.backends.local.fastpath.grammar import AnswerGrammar
    from tests.agent.backends.local.conftest import chat, noise_image

    end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    constraint = AnswerGrammar(processor.tokenizer, int(model.lm_head.weight.shape[0])).constraint(spec)
    inputs = processor(
        text=[chat(processor, "Open the mail.")],
        images=[noise_image(spec.width, spec.height, seed)],
        return_tensors="pt",
    )
    prompt = inputs["input_ids"].shape[1]

    def mask(ids: Any, scores: Any) -> Any:
        if ids.shape[1] > prompt and not constraint.done:
            constraint.accept(int(ids[0, -1]))
        bias = torch.empty(scores.shape[-1])
        if constraint.done:  # the grammar is complete: only the end of the turn
            bias.fill_(float("-inf"))
            bias[end] = 0.0
        else:
            constraint.allowed_bias(bias)
        return scores + bias

    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=cap,
            do_sample=False,
            eos_token_id=end,
            pad_token_id=end,
            logits_processor=LogitsProcessorList([mask]),
        )
    new = output[0, prompt:].tolist()
    ended = bool(new) and new[-1] == end
    return processor.tokenizer.decode(new[:-1] if ended else new), len(new), ended


@pytest.mark.slow
@pytest.mark.parametrize("size,seed", [((420, 280), 0), ((336, 336), 2)])
def test_a_random_model_writes_a_whole_ui_tars_answer_inside_the_cap(tiny_model, size, seed) -> None:
    model, processor = tiny_model
    cap = 128
    spec = GrammarSpec("uitars", *size)
    spec = dataclasses.replace(spec, limits=text_limits(spec, cap, "tokens"))
    answer, tokens, ended = served_answer(model, processor, spec, cap, seed)
    assert ended and tokens <= cap, answer  # unbounded, this model's thought ran to the cap
    assert answer_fit(spec, answer) == "whole"
    UITarsDialect().parse(answer, ModelFrame(*size))
