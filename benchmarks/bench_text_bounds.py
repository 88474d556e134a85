"""What bounding free text costs xgrammar, with Qwen's vocabulary (agent/backends/grammar/rules.py, budget.py).

A server that constrains an answer compiles its grammar once (per grammar text) and computes a
token mask at every step. For the UI-TARS answer with its thought written four ways -- unbounded
(``thought_char+``), bounded in characters (``thought_char{1,N}``) and bounded in tokens
(xgrammar's ``thought[max_tokens=N]``) -- this prints the compile time, the median and largest
mask time along a typical thought, and what an adversary that never ends the thought writes: how
many tokens until the grammar ends it (unbounded: the walk's limit). The last rows are the whole
grammars the openai backend sends at the default 512-token cap.

    python3 benchmarks/bench_text_bounds.py                      # qwen.tiktoken from ../shared/data
    python3 benchmarks/bench_text_bounds.py --tiktoken PATH --threads 8 --out bounds.json

CPU only; needs xgrammar (0.2.6 or later for the token-bounded rows) and Qwen's BPE file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# 60 characters: inside every bound below (the character-bounded grammar sent at cap 512 allows 73).
THOUGHT = "The departure city is set; the destination field comes next."
FORMS = {
    "unbounded": "thought ::= thought_char+",
    "chars<=100": "thought ::= thought_char{1,100}",
    "chars<=200": "thought ::= thought_char{1,200}",
    "tokens<=100": "thought[max_tokens=100] ::= thought_char+",
    "tokens<=300": "thought[max_tokens=300] ::= thought_char+",
}
WALK_LIMIT = 1000


def thought_grammar(thought_rule: str, spec: Any) -> str:
    """The UI-TARS grammar with its thought rule replaced by ``thought_rule``."""
    from qwen_gui_agent.agent.backends.grammar.rules import ebnf

    lines = [line for line in ebnf(spec).splitlines() if not line.startswith("thought ")]
    return "\n".join([lines[0], thought_rule, *lines[1:]])


def measure(compiler: Any, tokenizer: Any, grammar: str, vocab: list[bytes], prefix: str) -> dict[str, Any]:
    import torch
    import xgrammar as xgr

    started = time.perf_counter()
    compiled = compiler.compile_grammar(grammar)
    compile_ms = (time.perf_counter() - started) * 1000
    mask = xgr.allocate_token_bitmask(1, len(vocab))
    matcher = xgr.GrammarMatcher(compiled)
    times = []
    for token in tokenizer.encode(prefix + THOUGHT, add_special_tokens=False):
        started = time.perf_counter()
        matcher.fill_next_token_bitmask(mask)
        times.append((time.perf_counter() - started) * 1000)
        if not matcher.accept_token(token):
            raise RuntimeError(f"the sample thought left the grammar at {tokenizer.decode([token])!r}")
    # The adversary: the longest allowed token without a newline, until none is allowed (the thought ended).
    matcher = xgr.GrammarMatcher(compiled)
    matcher.accept_string(prefix)
    length = torch.tensor(
        [-1.0 if (not text or b"\n" in text or b"\r" in text) else float(len(text)) for text in vocab]
    )
    banned = torch.tensor(sorted(set(tokenizer.all_special_ids)))
    written = 0
    while written < WALK_LIMIT:
        matcher.fill_next_token_bitmask(mask)
        scores = length.clone().unsqueeze(0)
        scores[0, banned] = -1.0
        xgr.apply_token_bitmask_inplace(scores, mask)
        token = int(scores.argmax())
        if scores[0, token] < 0:
            break
        matcher.accept_token(token)
        written += 1
    return {
        "compile_ms": round(compile_ms, 1),
        "mask_median_ms": round(statistics.median(times), 3),
        "mask_max_ms": round(max(times), 2),
        "adversary_thought_tokens": written,
    }


def main(argv: list[str] | None = None) -> int:
    import xgrammar as xgr

    from benchmarks.gpu_models import find_tiktoken, qwen_tokenizer
    from qwen_gui_agent.agent.backends.grammar.budget import text_limits
    from qwen_gui_agent.agent.backends.grammar.rules import GrammarSpec, ebnf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiktoken", type=Path)
    parser.add_argument("--threads", type=int, default=2, help="xgrammar's compile threads (vLLM uses 8)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    tiktoken = find_tiktoken(args.tiktoken)
    if tiktoken is None:
        print("qwen.tiktoken not found: pass --tiktoken PATH", file=sys.stderr)
        return 2
    tokenizer = qwen_tokenizer(tiktoken)
    info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=152064)  # the 7B's embedding rows
    vocab = list(info.decoded_vocab)
    spec = GrammarSpec("uitars", 1316, 728)
    grammars = {name: thought_grammar(rule, spec) for name, rule in FORMS.items()}
    for unit in ("tokens", "chars"):  # what the openai backend sends at the default cap
        grammars[f"sent, {unit}, cap 512"] = ebnf(dataclasses.replace(spec, limits=text_limits(spec, 512, unit)))
    rows = []
    for name, grammar in grammars.items():
        # A fresh compiler each time: its cache would hide the compile cost of a grammar seen before.
        compiler = xgr.GrammarCompiler(info, max_threads=args.threads, cache_enabled=False)
        row = {"thought": name, **measure(compiler, tokenizer, grammar, vocab, "Thought: ")}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(f"\n{'thought':24} {'compile ms':>10} {'mask median':>11} {'mask max':>9} {'adversary':>9}")
    for row in rows:
        print(
            f"{row['thought']:24} {row['compile_ms']:10.1f} {row['mask_median_ms']:11.3f} {row['mask_max_ms']:9.2f} "
            f"{row['adversary_thought_tokens']:9d}"
        )
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "threads": args.threads}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
