"""An answer is judged by the grammar's language as the server's detokenizer leaves it (issue 26, item 4).

Servers detokenize with ``skip_special_tokens``: every token the tokenizer marks special is dropped.
The real Qwen2.5-VL tokenizer marks ``<tool_call>``/``</tool_call>`` as ordinary added tokens, which
are kept; the test tokenizer must do the same, and the answer check must still accept an answer
whose tags a differently built tokenizer dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qwen_gui_agent.agent.backends.grammar.regex_form import answer_fit
from qwen_gui_agent.agent.backends.grammar.rules import GrammarSpec
from qwen_gui_agent.tools.dialects.qwen import QwenDialect
from qwen_gui_agent.tools.frames import ModelFrame

# From Qwen/Qwen2.5-VL-7B-Instruct's tokenizer_config.json (added_tokens_decoder): id, text, "special".
QWEN25_VL_ADDED_TOKENS = (
    (151643, "<|endoftext|>", True),
    (151644, "<|im_start|>", True),
    (151645, "<|im_end|>", True),
    (151646, "<|object_ref_start|>", True),
    (151647, "<|object_ref_end|>", True),
    (151648, "<|box_start|>", True),
    (151649, "<|box_end|>", True),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
)
CALL = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [640, 360]}}
ANSWER = f"<tool_call>\n{json.dumps(CALL)}\n</tool_call>"


@pytest.fixture(scope="module")
def tokenizer(tiny_qwen_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_qwen_dir)


def test_the_test_tokenizer_marks_special_what_qwens_marks_special(tokenizer: Any) -> None:
    ours = {token.content: token.special for token in tokenizer.added_tokens_decoder.values()}
    assert {text: ours.get(text) for _, text, _ in QWEN25_VL_ADDED_TOKENS} == {
        text: special for _, text, special in QWEN25_VL_ADDED_TOKENS
    }
    # So a server's skip_special_tokens keeps the tool-call tags, as it does with the real tokenizer.
    ids = tokenizer.encode(ANSWER + "<|im_end|>", add_special_tokens=False)
    assert tokenizer.convert_tokens_to_ids("</tool_call>") in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == ANSWER


def test_an_answer_whose_tags_a_tokenizer_marked_special_still_matches_the_grammar(tokenizer: Any) -> None:
    from transformers import AddedToken

    # A tokenizer built otherwise (a conversion, a fine-tune's copy) may mark the tags special.
    tokenizer.add_special_tokens(
        {
            "additional_special_tokens": [
                AddedToken(text, special=True, normalized=False) for text in ("<tool_call>", "</tool_call>")
            ]
        },
        replace_extra_special_tokens=False,
    )
    detokenized = tokenizer.decode(tokenizer.encode(ANSWER, add_special_tokens=False), skip_special_tokens=True)
    assert detokenized == f"\n{json.dumps(CALL)}\n"  # what such a server sends back
    spec = GrammarSpec("qwen", 1316, 728)
    assert answer_fit(spec, detokenized) == "whole"
    assert answer_fit(spec, detokenized.strip()) == "whole"
    QwenDialect().parse(detokenized, ModelFrame(1316, 728))  # the parser reads it too
    assert answer_fit(spec, "I clicked the mail icon.") == "outside"
