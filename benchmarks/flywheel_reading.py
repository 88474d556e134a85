"""Does a trained model read the task's words? Swap the word a row types for another, see if the answer follows.

The flywheel's enter-text episodes ask to type one word (`Enter "Keli" into the text field...`), and
the exported row of the typing step answers with it. A model that reads the task puts that word
first at the answer's word position; one that does not answers the same word whatever the task says.
For rows of the export (the training rows, so the test is the easiest there is) this swaps the asked
word, in the task and in the answer's prefix, for another word the rows ask for, and measures at the
word's position:

- rank: where the swapped-in word ranks among all asked words (1 = first; chance is the middle);
- change: the KL divergence between the model's next-token distributions with the two words (0: the
  task's word makes no difference to the answer).

    python3 benchmarks/flywheel_reading.py --model OUT/model-trained --data OUT/data --rows 40

Only words that are one token of the model's tokenizer take part (the rank compares single tokens).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from pathlib import Path
from typing import Any

ASKED = re.compile(r'Enter "([^"]+)"')
TYPED = '"action": "type", "text": "'  # the qwen dialect's typing answer, up to the word
TYPED_UITARS = "type(content='"  # UI-TARS's


def asked_word(row: dict[str, Any]) -> str | None:
    """The word a row's task asks to type, if it asks for one: the first user message holds the task in
    both dialects (qwen's after its system message, UI-TARS's with its prompt)."""
    first = next(message["content"] for message in row["messages"] if message["role"] == "user")
    found = ASKED.search(first)
    return found.group(1) if found else None


def types_asked_word(row: dict[str, Any]) -> bool:
    asked = asked_word(row)
    answer = row["messages"][-1]["content"]
    return bool(asked) and (f'{TYPED}{asked}"' in answer or f"{TYPED_UITARS}{asked}')" in answer)


def read_rows(data: Path) -> list[dict[str, Any]]:
    """The export's action rows (``train.jsonl`` of the data folder)."""
    return [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]


def typing_rows(data: Path) -> list[dict[str, Any]]:
    """Rows whose last answer types the word their task asks for, in either dialect: those flywheel.py's
    reading stage trains on first."""
    return [row for row in read_rows(data) if types_asked_word(row)]


def swappable_rows(data: Path) -> list[dict[str, Any]]:
    """The typing rows this script swaps words in: the qwen dialect's, with one image and one turn."""
    return [
        row
        for row in typing_rows(data)
        if TYPED in row["messages"][-1]["content"] and len(row["messages"]) == 3 and len(row.get("images", [])) == 1
    ]


def one_token_words(rows: list[dict[str, Any]], tokenizer: Any) -> dict[str, int]:
    words = {asked_word(row) for row in rows}
    ids = {word: tokenizer(word, add_special_tokens=False)["input_ids"] for word in sorted(filter(None, words))}
    return {word: found[0] for word, found in ids.items() if len(found) == 1}


def next_token_log_probs(model: Any, processor: Any, row: dict[str, Any], word: str, image: Any) -> Any:
    """The model's log-probabilities for the token after ``"text": "`` with ``word`` asked in the task."""
    import torch

    system, user, answer = (message["content"] for message in row["messages"])
    user = user.replace(f'"{asked_word(row)}"', f'"{word}"')
    before, after = user.split("<image>")
    chat = [
        {"role": "system", "content": system},
        {
            "role": "user",
            "content": [{"type": "text", "text": before}, {"type": "image"}, {"type": "text", "text": after}],
        },
    ]
    prompt = processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    prefix = answer[: answer.index(TYPED) + len(TYPED)]
    inputs = processor(text=[prompt + prefix], images=[image], return_tensors="pt")
    with torch.no_grad():
        return model(**inputs).logits[0, -1].double().log_softmax(-1)


def measure(model_dir: Path, data: Path, rows_wanted: int = 40, seed: int = 0) -> dict[str, Any] | None:
    """The figures above for ``rows_wanted`` typing rows; None when the rows ask for fewer than two one-token words."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(seed)
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    rows = swappable_rows(data)
    words = one_token_words(rows, processor.tokenizer)
    rows = [row for row in rows if asked_word(row) in words]
    if len(words) < 2 or not rows:
        return None
    pick = random.Random(seed)
    candidates = torch.tensor(list(words.values()))
    ranks, changes = [], []
    for row in pick.sample(rows, min(rows_wanted, len(rows))):
        asked = asked_word(row)
        other = pick.choice([word for word in words if word != asked])
        image = Image.open(data / row["images"][0]).convert("RGB")
        original = next_token_log_probs(model, processor, row, asked, image)
        swapped = next_token_log_probs(model, processor, row, other, image)
        ranks.append(int((swapped[candidates] > swapped[words[other]]).sum()) + 1)
        # A KL divergence is never negative; float rounding can make a zero one come out at -1e-17.
        changes.append(max(0.0, float((original.exp() * (original - swapped)).sum())))
    return {
        "model": str(model_dir),
        "rows": len(ranks),
        "words": len(words),
        "median_rank": statistics.median(ranks),
        "first": sum(rank == 1 for rank in ranks) / len(ranks),
        "chance_rank": (len(words) + 1) / 2,
        "mean_kl": statistics.fmean(changes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained model folder (model-trained)")
    parser.add_argument("--data", type=Path, required=True, help="the export it trained on (data/)")
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in (args.model / "config.json", args.data / "train.jsonl"):
        if not path.is_file():
            print(f"{path}: not found; pass a trained model folder and its export's data folder", file=sys.stderr)
            return 2
    result = measure(args.model, args.data, args.rows, args.seed)
    if result is None:
        print(
            f"{args.data / 'train.jsonl'}: no rows type a one-token word their task asks for; "
            "export enter-text runs (qwen dialect) to have some",
            file=sys.stderr,
        )
        return 2
    print(
        f"{result['rows']} rows, {result['words']} one-token words: the swapped-in word ranks "
        f"{result['median_rank']:g} (median; chance {result['chance_rank']:g}), first in {100 * result['first']:.0f}%; "
        f"KL between the two answers {result['mean_kl']:.2g}"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
