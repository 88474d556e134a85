"""Grammar-constrained decoding (agent/backends/local/fastpath/grammar_decode.py) beside the default fast path and plain generate.

For typical action answers (a Qwen click, a Qwen type, a UI-TARS click) it prints how many of
the answer's tokens were decoded one at a time, how many the grammar forced (fed in the prefill
or in chunk forwards, no decode step each), the decode steps and chunks, and the whole step in ms,
beside the default fast path and plain ``generate`` producing an answer of the same length.

Random weights do not write a typical answer, so the constrained rows are steered: at each free
token only the token that continues the target answer is allowed (inside the grammar, which still
decides what is forced). The costs are those a trained model pays for that answer. ``--free``
adds a row with the random model choosing freely inside the grammar (the answer is printed).

    python3 benchmarks/bench_grammar.py --sizes 7b --repeats 3
    python3 benchmarks/bench_grammar.py --cpu-smoke /tmp/tiny-qwen   # the same code on a tiny CPU model

Needs a CUDA GPU (or --cpu-smoke DIR), xgrammar, and qwen.tiktoken as bench_local.py does.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_local import frame_for, timed

log = logging.getLogger("bench_grammar")

TARGETS = {
    "qwen-click": (
        "qwen",
        (
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", '
            '"coordinate": [128, 96]}}\n</tool_call>'
        ),
    ),
    "qwen-type": (
        "qwen",
        (
            '<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", '
            '"text": "Shanghai Hongqiao"}}\n</tool_call>'
        ),
    ),
    "uitars-click": (
        "uitars",
        ("Thought: The departure city is set; the destination field comes next.\nAction: click(start_box='(128,96)')"),
    ),
}


class SteeredConstraint:
    """A grammar constraint that, at each free token, allows only the token continuing ``target``.

    Forced tokens still come from the grammar (its jump-forward text, tokenized), so the split
    between decoded and forced tokens is the one a model writing ``target`` would get.
    """

    def __init__(self, inner: Any, tokenizer: Any, target: str, pieces: dict[str, list[int]]) -> None:
        self.inner, self.tokenizer, self.target, self.pieces = inner, tokenizer, target, pieces
        self.written = ""

    @property
    def done(self) -> bool:
        return self.inner.done

    def accept(self, token: int) -> None:
        self.inner.accept(token)
        self.written += self.tokenizer.decode([token])

    def forced(self, limit: int) -> list[int]:
        tokens = self.inner.forced(limit)
        self.written += self.tokenizer.decode(tokens)
        return tokens

    def allowed_bias(self, out: Any) -> None:
        rest = self.target[len(self.written) :]
        if not self.target.startswith(self.written) or not rest:
            raise RuntimeError(f"steering lost the target after {self.written!r}")
        self.inner.allowed_bias(out)  # the grammar's mask, computed as in a real step (its cost counts)
        # The longest allowed token that continues the target (xgrammar's mask may leave out some
        # tokens a canonical tokenization would use; any allowed one is a valid answer token).
        candidates = [t for size in range(min(len(rest), 24), 0, -1) for t in self.pieces.get(rest[:size], ())]
        allowed = out[candidates].tolist() if candidates else []
        fitting = [t for t, bias in zip(candidates, allowed, strict=False) if bias == 0]
        if not fitting:
            raise RuntimeError(f"no allowed token continues the target after {self.written!r}")
        out.fill_(float("-inf"))
        out[fitting[0]] = 0.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="7b")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-pixels", type=int, default=1280 * 28 * 28)
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--free", action="store_true", help="also let the random model choose inside the grammar")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--tiktoken", type=Path)
    parser.add_argument("--cpu-smoke", type=Path, help="a tiny Qwen2.5-VL directory: run everything on the CPU")
    parser.add_argument("--out", type=Path)
    return parser.parse_args(argv)


def bench_target(
    fast: Any,
    grammar: Any,
    processor: Any,
    text: str,
    image: Any,
    frame: tuple[int, int],
    name: str,
    args: argparse.Namespace,
    cuda: bool,
) -> dict[str, Any]:
    from qwen_gui_agent.agent.backends.grammar.rules import GrammarSpec
    from qwen_gui_agent.agent.backends.local.fastpath.grammar_decode import constrained_generate

    dialect, target = TARGETS[name] if name in TARGETS else (name.split(":")[1], None)
    spec = GrammarSpec.from_name(dialect, *frame)
    tokenizer = processor.tokenizer
    pieces: dict[str, list[int]] = {}  # decoded text -> token ids, to find the tokens continuing a target fast
    for token in range(len(tokenizer)):
        pieces.setdefault(tokenizer.decode([token]), []).append(token)

    def constraint() -> Any:
        inner = grammar.constraint(spec)
        return inner if target is None else SteeredConstraint(inner, tokenizer, target, pieces)

    def run() -> tuple[float, Any]:
        pre_ms, inputs = timed(lambda: fast.prepare(text, [image], processor), cuda)
        gen_ms, result = timed(lambda: constrained_generate(fast, inputs, 512, constraint()), cuda)
        return pre_ms + gen_ms, result

    run()  # cold: graph capture for the bucket, grammar compile
    runs = [run() for _ in range(args.repeats)]
    result = runs[-1][1]
    answer = tokenizer.decode(result.tokens)
    if target is not None and answer != target:
        raise RuntimeError(f"steered answer {answer!r} is not the target {target!r}")
    row = {
        "target": name,
        "answer": answer,
        "tokens": len(result.tokens),
        "forced": result.forced,
        "decoded": len(result.tokens) - result.forced,
        "decode_steps": result.decode_steps,
        "chunks": result.chunks,
        "step_ms": statistics.median(r[0] for r in runs),
        "first_token_ms": statistics.median(r[1].timings["prefill"] for r in runs),
        "decode_ms": statistics.median(r[1].timings["decode"] for r in runs),
    }
    row["same_length"] = bench_unconstrained(fast, processor, text, image, len(result.tokens) + 1, args, cuda)
    return row


def bench_unconstrained(
    fast: Any, processor: Any, text: str, image: Any, count: int, args: argparse.Namespace, cuda: bool
) -> dict[str, float]:
    """Default fast path and plain generate writing ``count`` tokens (the answer and its end-of-turn token)."""
    from qwen_gui_agent.agent.backends.local.fastpath.engine import GreedyOptions

    options = GreedyOptions(min_new_tokens=count)

    def fast_run() -> float:
        pre_ms, inputs = timed(lambda: fast.prepare(text, [image], processor), cuda)
        return pre_ms + timed(lambda: fast.generate(inputs, count, options), cuda)[0]

    def plain_run() -> float:
        pre_ms, inputs = timed(
            lambda: processor(text=[text], images=[image], return_tensors="pt").to(fast.device), cuda
        )
        return (
            pre_ms
            + timed(
                lambda: fast.model.generate(**inputs, max_new_tokens=count, min_new_tokens=count, do_sample=False), cuda
            )[0]
        )

    fast_run()
    numbers = {"fast_step_ms": statistics.median(fast_run() for _ in range(args.repeats))}
    if not args.skip_plain:
        plain_run()
        numbers["plain_step_ms"] = statistics.median(plain_run() for _ in range(args.repeats))
    return numbers


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'model':5} {'answer':13} {'tokens':>6} {'decoded':>7} {'forced':>6} {'steps':>5} {'chunks':>6} "
        f"{'TTFT':>7} {'grammar':>8} {'fast':>7} {'plain':>7}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        same = row["same_length"]
        plain = f"{same['plain_step_ms']:7.1f}" if "plain_step_ms" in same else "      -"
        lines.append(
            f"{row['model']:5} {row['target']:13} {row['tokens']:6} {row['decoded']:7} {row['forced']:6} "
            f"{row['decode_steps']:5} {row['chunks']:6} {row['first_token_ms']:7.1f} {row['step_ms']:8.1f} "
            f"{same['fast_step_ms']:7.1f} {plain}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    from benchmarks.gpu_models import chat_text, find_tiktoken, qwen_processor, qwen_tokenizer, random_model
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath
    from qwen_gui_agent.agent.backends.local.fastpath.grammar import AnswerGrammar

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cuda = args.cpu_smoke is None
    names = args.targets.split(",") + (["free:qwen", "free:uitars"] if args.free else [])
    if cuda:
        if not torch.cuda.is_available():
            print("bench_grammar needs a CUDA GPU (or --cpu-smoke DIR)", file=sys.stderr)
            return 2
        tiktoken = find_tiktoken(args.tiktoken)
        if tiktoken is None:
            print("qwen.tiktoken not found: pass --tiktoken PATH", file=sys.stderr)
            return 2
        tokenizer = qwen_tokenizer(tiktoken)
        processor = qwen_processor(tokenizer, args.max_pixels)
        models = [(size, lambda size=size: random_model(size)) for size in args.sizes.split(",")]
    else:
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        processor = AutoProcessor.from_pretrained(args.cpu_smoke)
        models = [("tiny", lambda: Qwen2_5_VLForConditionalGeneration.from_pretrained(args.cpu_smoke).eval())]
    image, frame = frame_for("desktop", args.max_pixels)
    text = chat_text(frame)
    rows = []
    for name, build in models:
        model = build()
        fast = FastPath(model)
        grammar = AnswerGrammar(processor.tokenizer, int(model.lm_head.weight.shape[0]))
        for target in names:
            row = {"model": name, **bench_target(fast, grammar, processor, text, image, frame, target, args, cuda)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        del model, fast
        if cuda:
            torch.cuda.empty_cache()
    print(table(rows), flush=True)
    if args.out:
        args.out.write_text(
            json.dumps(
                {"rows": rows, "torch": torch.__version__, "device": torch.cuda.get_device_name() if cuda else "cpu"},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
