"""A small Qwen2.5-VL to train from random weights: a tokenizer fitted to a corpus, each number 0..999 one token.

The tiny model of tests/support/tiny_qwen.py is for plumbing: its 512-token BPE writes a coordinate
as two or three digit tokens and its prompts run to thousands of tokens. This one is for learning
(benchmarks/flywheel.py trains it with ``swift sft`` on the rows ``agent export`` wrote):

- Each whole number 0..999 is one token, so a coordinate is one choice among the frame's values,
  not a string of digits where the first digit alone costs as much as guessing (the spike in
  DESIGN.md learnt the answer's form, not the position, with digit tokens).
- Runs of digits, newlines and capitalized words (names, labels: what a task asks to type) are cut
  out before BPE, so a name reads as the same tokens in the task and in the answer that types it.
  The rest is a byte-level BPE fitted to the corpus (the exported rows' text) that may merge across
  spaces ("phrases", the default), keeping only merges seen ``min_frequency`` times: the fixed parts
  of a dialect's prompt become a few long tokens (a row is ~135 tokens, which a CPU trains fast),
  and no one task's wording is memorized whole. ``merges="words"`` keeps merges inside words
  (GPT-2's split): rows six times longer. Cutting at every newline keeps the tokens the same
  whether a prompt is encoded whole (the agent's processor) or in pieces joined at the chat
  template's newlines (ms-swift's template).
- The special tokens follow the BPE (the vocabulary stays small): ms-swift's ``qwen2_5_vl`` template
  hard-codes ``<|image_pad|>`` as 151655, so training goes through the template of
  tests/support/swift_small_vocab.py, which reads the ids from the processor.

``save_small_qwen(directory, corpus, spec)`` writes the model, tokenizer and processor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.tiny_qwen import CHAT_TEMPLATE, KEPT_ADDED_TOKENS, SPECIAL_TOKENS

LARGEST_NUMBER_TOKEN = 999
# Isolated before BPE: digit runs (whole-number tokens), newlines (template joins), capitalized words (names).
_CUT = r"\d+|\n|\p{Lu}\p{L}*"


@dataclass(frozen=True)
class SmallQwenSpec:
    """Sizes; ``mrope_sections`` must sum to head_dim / 2 (hidden / heads / 2)."""

    bpe_vocab: int = 2500  # bytes and merges fitted to the corpus (the numbers come on top)
    merges: str = "phrases"  # across spaces; "words": inside words only (GPT-2's split)
    min_frequency: int = 50  # a merge must be seen this often in the corpus
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate_size: int = 384
    mrope_sections: tuple[int, int, int] = (4, 6, 6)
    vision_depth: int = 4
    vision_hidden: int = 128
    vision_heads: int = 4
    vision_intermediate: int = 256
    min_pixels: int = 4 * 28 * 28
    max_pixels: int = 1280 * 28 * 28
    seed: int = 0

    def describe(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.__dict__.items()}


# The flywheel's model sizes (benchmarks/flywheel.py --model-size). "small" (2.3 M parameters with the
# flywheel's ~2,900-token vocabulary) trains on one CPU thread in ~40 minutes; its loss stops falling
# after ~400 steps. "medium" (~12 M) is for a GPU: five times the parameters, split about evenly
# between the vision tower and the language model so that both seeing and choosing grow.
SIZES: dict[str, SmallQwenSpec] = {
    "small": SmallQwenSpec(),
    "medium": SmallQwenSpec(
        hidden_size=256,
        layers=6,
        heads=4,
        kv_heads=2,
        intermediate_size=1024,
        mrope_sections=(8, 12, 12),
        vision_depth=6,
        vision_hidden=256,
        vision_heads=4,
        vision_intermediate=512,
    ),
}


def build_tokenizer(corpus: Iterable[str], spec: SmallQwenSpec):
    """The BPE fitted to ``corpus`` (digits and newlines cut out first), every number 0..999 as one token."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AddedToken, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CUT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=spec.merges == "words"),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.bpe_vocab,
        min_frequency=spec.min_frequency,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The numbers are added by hand below: the merges learnt here cover the words.
    backend.train_from_iterator((re.sub(r"\d+", " ", text) for text in corpus), trainer=trainer)
    backend = _with_number_tokens(backend)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    tokenizer.add_special_tokens(
        {"additional_special_tokens": [AddedToken(token, special=True, normalized=False) for token in SPECIAL_TOKENS]}
    )
    tokenizer.add_tokens([AddedToken(token, special=False, normalized=False) for token in KEPT_ADDED_TOKENS])
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _with_number_tokens(backend):
    """Every number 1..999 (digits in the byte-level alphabet are themselves) reachable by merges as one token.

    A three-digit run can pair its first or its last two digits first, whichever merge ranks lower: both
    second merges are there, each giving the whole number.
    """
    from tokenizers import Tokenizer

    data = json.loads(backend.to_str())
    vocab: dict[str, int] = data["model"]["vocab"]
    merges = [tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ")) for merge in data["model"]["merges"]]
    known = set(merges)

    def add(left: str, right: str) -> None:
        if left + right not in vocab:
            vocab[left + right] = len(vocab)
        if (left, right) not in known:
            merges.append((left, right))
            known.add((left, right))

    for pair in range(100):  # 00..99: a three-digit number's last two digits may pair first ("1" + "05")
        add(f"{pair:02d}"[0], f"{pair:02d}"[1])
    for number in range(100, LARGEST_NUMBER_TOKEN + 1):
        text = str(number)
        add(text[:2], text[2])
        add(text[0], text[1:])
    data["model"]["merges"] = [list(merge) for merge in merges]
    return Tokenizer.from_str(json.dumps(data))


def build_config(spec: SmallQwenSpec, tokenizer):
    """tiny_qwen's config at these sizes, with tied embeddings and Qwen2's rope base."""
    from tests.support.tiny_qwen import TinyQwenSpec
    from tests.support.tiny_qwen import build_config as build_tiny_config

    sizes = TinyQwenSpec(
        hidden_size=spec.hidden_size,
        layers=spec.layers,
        heads=spec.heads,
        kv_heads=spec.kv_heads,
        intermediate_size=spec.intermediate_size,
        mrope_sections=spec.mrope_sections,
        vision_depth=spec.vision_depth,
        vision_hidden=spec.vision_hidden,
        vision_heads=spec.vision_heads,
        vision_intermediate=spec.vision_intermediate,
    )
    return build_tiny_config(
        sizes,
        tokenizer,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        # Every block attends to the whole image: a small frame is a window or two anyway.
        full_attention_blocks=range(spec.vision_depth),
    )


def save_small_qwen(directory: Path | str, corpus: Iterable[str], spec: SmallQwenSpec = SmallQwenSpec()) -> Path:
    """Build the tokenizer from ``corpus`` and the model with random weights (seeded), and save both."""
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLForConditionalGeneration

    from tests.support.tiny_qwen import TinyQwenSpec
    from tests.support.tiny_qwen import build_processor as build_tiny_processor

    directory = Path(directory)
    tokenizer = build_tokenizer(corpus, spec)
    config = build_config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    stop = [tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    model.generation_config = GenerationConfig(eos_token_id=stop, pad_token_id=stop[1])
    model.save_pretrained(directory)
    bounds = TinyQwenSpec(min_pixels=spec.min_pixels, max_pixels=spec.max_pixels)
    build_tiny_processor(bounds, tokenizer).save_pretrained(directory)
    vision = sum(parameter.numel() for parameter in model.model.visual.parameters())
    total = sum(parameter.numel() for parameter in model.parameters())
    (directory / "parameters.json").write_text(
        json.dumps({"total": total, "vision": vision, "vocab_size": len(tokenizer), "spec": spec.describe()}, indent=1)
    )
    return directory


def corpus_of_rows(train_jsonl: Path | str) -> list[str]:
    """The text of every message of an ms-swift data file (the ``<image>`` tags left out)."""
    texts = []
    with open(train_jsonl, encoding="utf-8") as rows:
        for line in rows:
            for message in json.loads(line)["messages"]:
                texts.append(message["content"].replace("<image>", ""))
    return texts
