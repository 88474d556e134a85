"""The small model of benchmarks/flywheel.py trains on what the agent sends it: ms-swift and our backend agree.

tests/support/small_qwen.py fits its tokenizer to the exported rows and puts the special tokens
right after them, so ms-swift trains it through tests/support/swift_small_vocab.py (the stock
qwen2_5_vl template with the image token read from the processor). For runs in both dialects and
both kinds of merges, every exported row must encode to exactly the input ids, pixel values and
image grids our local backend feeds that model at that step, with labels on the answer alone.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

from qwen_gui_agent.agent.backends.local.backend import LocalBackend
from qwen_gui_agent.agent.backends.settings import BackendSettings
from qwen_gui_agent.tools.frames import SERVING_MAX_PIXELS
from tests.agent.export.conftest import record
from tests.agent.export.test_swift_encoding import encode, exported_rows, model_call_of_step
from tests.support.small_qwen import SmallQwenSpec, corpus_of_rows, save_small_qwen

pytestmark = pytest.mark.slow
SUPPORT = Path(__file__).resolve().parents[2] / "support"


def small_template(model: Path):
    pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
    previous = os.environ.get("QWENVL_BBOX_FORMAT")
    os.environ["QWENVL_BBOX_FORMAT"] = "new"
    sys.path.insert(0, str(SUPPORT))  # as --custom_register_path loads it
    try:
        import swift_small_vocab
        from swift.model import get_processor
        from swift.template import get_template

        template = get_template(
            get_processor(str(model), model_type="qwen2_5_vl"), template_type=swift_small_vocab.TEMPLATE
        )
        template.set_mode("train")
    finally:
        sys.path.remove(str(SUPPORT))
        if previous is None:
            os.environ.pop("QWENVL_BBOX_FORMAT", None)
        else:
            os.environ["QWENVL_BBOX_FORMAT"] = previous
    return template


@pytest.mark.parametrize("merges", ["words", "phrases"])
@pytest.mark.parametrize("dialect", ["qwen", "uitars"])
def test_rows_encode_for_the_small_model_as_its_local_backend_sends_them(
    dialect: str, merges: str, tmp_path: Path
) -> None:
    # The tokenizer is fitted to the export, as the flywheel does; then the same run is recorded again with the
    # small model's own local backend preparing every prompt.
    scripted = record(None, tmp_path / "scripted", dialect)
    exported_rows(scripted.run_dir, tmp_path / "first")
    model = save_small_qwen(
        tmp_path / "model",
        corpus_of_rows(tmp_path / "first" / "train.jsonl"),
        SmallQwenSpec(
            merges=merges,
            min_frequency=2,  # a small corpus: merges even so, across the template's joins if they could
            hidden_size=32,
            intermediate_size=64,
            mrope_sections=(1, 1, 2),
            layers=1,
            vision_depth=1,
            vision_hidden=32,
            vision_intermediate=64,
        ),
    )
    backend = LocalBackend(
        BackendSettings(kind="local", model=str(model), torch_device="cpu", max_pixels=SERVING_MAX_PIXELS)
    )
    try:
        recorded = record(backend, tmp_path / "runs", dialect)
    finally:
        backend.close()
    rows = exported_rows(recorded.run_dir, tmp_path / "data")
    calls = model_call_of_step(recorded.run_dir)
    template = small_template(model)
    tokenizer = template.tokenizer
    assert tokenizer.convert_tokens_to_ids("<|image_pad|>") < 4000  # small: not at the real vocabulary's 151655
    end_of_turn = tokenizer("<|im_end|>\n", add_special_tokens=False)["input_ids"]
    action_rows = [(row, step) for row, step in rows if "objects" not in row]
    assert len(action_rows) >= 3
    for row, step in action_rows:
        sent = recorded.sent[calls[step]]
        encoded = encode(template, row)
        answer_ids = tokenizer(row["messages"][-1]["content"], add_special_tokens=False)["input_ids"]
        assert encoded["input_ids"] == sent.input_ids + answer_ids + end_of_turn, f"step {step}"
        assert encoded["labels"] == [-100] * len(sent.input_ids) + answer_ids + end_of_turn, f"step {step}"
        assert torch.equal(encoded["image_grid_thw"], sent.image_grid_thw), f"step {step}"
        assert torch.equal(encoded["pixel_values"], sent.pixel_values), f"step {step}"
    numbers = [tokenizer.convert_ids_to_tokens(token) for token in tokenizer("[40, 30]")["input_ids"]]
    assert "40" in numbers and "30" in numbers  # a coordinate is one token
