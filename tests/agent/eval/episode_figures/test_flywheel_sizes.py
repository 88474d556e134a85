"""The flywheel's model sizes (``benchmarks/flywheel.py --model-size``) build, and grow as documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.small_qwen import SIZES, build_config, build_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CORPUS = ['Click the button. {"action": "left_click", "coordinate": [54, 92]}', 'Enter "Emile" into the field.'] * 60


def meta_model(size: str) -> Any:
    """The size's model on the meta device: its shapes alone, no memory, no time."""
    spec = SIZES[size]
    config = build_config(spec, build_tokenizer(CORPUS, spec))  # raises when the rotary sections do not fit
    with torch.device("meta"):
        return transformers.Qwen2_5_VLForConditionalGeneration(config)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_each_size_builds_a_qwen2_5_vl_whose_rotary_sections_fit_its_heads(size: str) -> None:
    model = meta_model(size)
    assert model.config.text_config.hidden_size == SIZES[size].hidden_size
    assert len(model.model.visual.blocks) == SIZES[size].vision_depth


def test_medium_is_about_five_times_small_split_between_seeing_and_choosing() -> None:
    counts = {}
    for size in ("small", "medium"):
        model = meta_model(size)
        vision = sum(parameter.numel() for parameter in model.model.visual.parameters())
        counts[size] = (sum(parameter.numel() for parameter in model.parameters()), vision)
    (small, _), (medium, medium_vision) = counts["small"], counts["medium"]
    assert 4 < medium / small < 7, counts  # the docs say 2.3 M and 12.2 M with the flywheel's vocabulary
    assert 0.35 < medium_vision / medium < 0.65, counts


def _exported(out: Path) -> Path:
    """``out`` with a data folder as the export leaves it (rows of CORPUS, a manifest naming them)."""
    data = out / "data"
    data.mkdir(parents=True)
    rows = [
        {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]} for text in CORPUS
    ]
    (data / "train.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (data / "manifest.json").write_text(json.dumps({"data": "train.jsonl"}))
    return out


def test_the_init_seed_changes_the_initial_weights_and_not_the_vocabulary(tmp_path: Path) -> None:
    """--init-seed reaches the build stage: another seed, other weights over the same tokenizer; the same seed, the same."""
    from safetensors.torch import load_file

    from benchmarks.flywheel import main as flywheel

    built = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        out = _exported(tmp_path / name)
        assert flywheel(["--out", str(out), "--stages", "build", "--init-seed", str(seed)]) == 0
        model = tmp_path / name / "model-init"
        built[name] = ((model / "tokenizer.json").read_text(), load_file(model / "model.safetensors"))
    assert built["a"][0] == built["b"][0] == built["c"][0]
    same, other = built["a"][1], built["c"][1]
    assert all(torch.equal(same[key], built["b"][1][key]) for key in same)
    assert not all(torch.equal(same[key], other[key]) for key in same)
    assert json.loads((tmp_path / "c" / "flywheel.json").read_text())["settings"]["init_seed"] == 1


def test_a_folder_built_from_other_initial_weights_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The build stage is skipped when model-init/ is there: training it under another --init-seed would mislabel the run."""
    from benchmarks.flywheel import main as flywheel

    out = _exported(tmp_path / "work")
    assert flywheel(["--out", str(out), "--stages", "build", "--init-seed", "2"]) == 0
    assert flywheel(["--out", str(out), "--stages", "train", "--init-seed", "3"]) == 2
    assert "--init-seed 2, not 3" in capsys.readouterr().err
    assert not (out / "model-trained").exists()
    # A stage that does not use the model goes on (the export is there: done before).
    assert flywheel(["--out", str(out), "--stages", "export", "--init-seed", "3"]) == 0
