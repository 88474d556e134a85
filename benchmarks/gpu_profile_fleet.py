"""Where a fleet round's time goes: joining phases (batched and per row) and the decode step's kernels.

    python3 benchmarks/gpu_profile_fleet.py --size 7b --batch 8 --out $OUT/fleet_profile.json

Times (CUDA-synchronized, median of --repeats) for B conversations of benchmarks/bench_fleet.py:
GPU preprocessing, the vision tower batched and per row (its graph), the prefill of the rows
together after the kept prefix, the same without a prefix, the single stream's exact prefill per
row, one decode step of B rows; then torch.profiler's kernel table of one join and of the eager
decode step (--kernels FILE). A check: the rows' first logits from the join against the exact
prefill of each row alone (largest difference, first tokens equal). ``--family qwen3`` for Qwen3-VL;
``--products cublas`` keeps the decode step's q/k/v, gate/up and head on cuBLAS (FleetEngine's
``fused_products`` off; benchmarks/gpu_bench_fleet_decode.py times both in one process).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_fleet import conversations
from benchmarks.gpu_models import FAMILIES, PATCH, find_tiktoken, qwen_processor, qwen_tokenizer, random_model


def timed(work: Any, repeats: int) -> float:
    import torch

    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        work()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def kernel_table(work: Any, rows: int = 30) -> str:
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        work()
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="cuda_time_total", row_limit=rows, max_name_column_width=70)


def alone(fast: Any, row: Any, embed: Any, deepstack: Any) -> Any:
    """One row's first logits through the single stream's exact prefill (fastpath/prefill.py), (1, vocab)."""
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.prefill import image_positions, prefill

    text, length = fast.text, len(row.ids)
    shape = (1, text.kv_heads, length, text.head_dim)
    keys = [torch.empty(shape, device=fast.device, dtype=fast.dtype) for _ in text.layers]
    values = [torch.empty_like(t) for t in keys]
    return prefill(
        text,
        embed.unsqueeze(0),
        row.positions.to(fast.device),
        keys,
        values,
        image_positions(row.input_ids, fast.config.image_token_id, deepstack),
    )


def main() -> int:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine
    from qwen_gui_agent.agent.backends.local.fleet.join import JoiningRow
    from qwen_gui_agent.tools.frames import smart_resize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="qwen2.5")
    parser.add_argument("--size", default="", help="7b, 3b (qwen2.5); 2b, 4b, 8b, 32b (qwen3)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-pixels", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--kernels", type=Path)
    parser.add_argument("--products", choices=("fused", "cublas"), default="fused", help="the decode step's products")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    factor = 2 * PATCH[args.family]
    args.size = args.size or ("8b" if args.family == "qwen3" else "7b")
    args.max_pixels = args.max_pixels or 1280 * factor * factor

    tokenizer = qwen_tokenizer(find_tiktoken())
    processor = qwen_processor(tokenizer, args.max_pixels, family=args.family)
    model = random_model(args.size, family=args.family)
    height, width = smart_resize(1080, 1920, factor=factor, max_pixels=args.max_pixels)
    convs = conversations(args.batch, (width, height))
    fast = FastPath(model)
    options = GreedyOptions(eos_token_ids=(), min_new_tokens=40)
    prepared = [fast.prepare(text, images, processor) for text, images in convs]
    capacity = math.ceil((max(int(p["input_ids"].shape[1]) for p in prepared) + 41) / 256) * 256
    engine = FleetEngine(fast, options, slots=args.batch, capacity=capacity, fused_products=args.products == "fused")
    engine.run_all([(p, 40) for p in prepared])  # graphs captured, prefix kept
    joiner = engine.joiner
    rows = [JoiningRow.of(inputs, slot, model.config, fast.device) for slot, inputs in enumerate(prepared)]
    grid = rows[0].grids
    pixels = torch.cat([row.pixel_values for row in rows])
    with torch.inference_mode():
        embeds = joiner._embeddings(rows)
    prefix = joiner.prefix
    numbers: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "batch": args.batch,
        "many_row_products": engine.runner.text.many_products,
        "prompt_tokens": [len(r.ids) for r in rows],
        "prefix_tokens": len(prefix.tokens) if prefix else 0,
    }
    with torch.inference_mode():
        numbers["prepare_ms"] = timed(lambda: [fast.prepare(t, i, processor) for t, i in convs], args.repeats)
        numbers["vision_batched_ms"] = timed(
            lambda: fast.vision.forward(pixels, grid * args.batch, batched=True), args.repeats
        )
        numbers["vision_per_row_graph_ms"] = timed(
            lambda: [fast.vision(row.pixel_values, grid) for row in rows], args.repeats
        )
        numbers["embeddings_ms"] = timed(lambda: joiner._embeddings(rows), args.repeats)
        numbers["prefill_batched_after_prefix_ms"] = timed(lambda: joiner._prefill(rows, embeds, prefix), args.repeats)
        numbers["prefill_batched_whole_ms"] = timed(lambda: joiner._prefill(rows, embeds, None), args.repeats)
        numbers["prefix_pass_ms"] = timed(lambda: joiner._compute_prefix(prefix.tokens), args.repeats)
        numbers["prefill_exact_per_row_ms"] = timed(
            lambda: [alone(fast, row, e, deep) for row, (e, deep) in zip(rows, embeds, strict=False)], args.repeats
        )
        numbers["join_all_ms"] = timed(
            lambda: (engine.rows.clear(), engine.admit_many([(p, 40, i) for i, p in enumerate(prepared)])), args.repeats
        )
        numbers["decode_step_ms"] = timed(engine.step, args.repeats * 5)
        # The joined rows' first logits against transformers' own prefill of each row alone.
        joined = joiner.join(rows)
        single = torch.cat([alone(fast, row, e, deep) for row, (e, deep) in zip(rows, embeds, strict=False)])
        numbers["first_logits_max_abs_diff"] = float((joined - single).abs().max())
        numbers["first_logits_max_abs"] = float(single.abs().max())
        numbers["first_tokens_equal"] = int((joined.argmax(-1) == single.argmax(-1)).sum())
        tables = {
            "join": kernel_table(
                lambda: (engine.rows.clear(), engine.admit_many([(p, 40, i) for i, p in enumerate(prepared)]))
            ),
            "decode (eager step body)": kernel_table(engine.runner._step_body, rows=40),
        }
    for name, value in numbers.items():
        print(f"{name:36} {value if not isinstance(value, float) else round(value, 2)}", flush=True)
    text = "\n\n".join(f"## {name}\n{table}" for name, table in tables.items())
    print(text)
    if args.out:
        args.out.write_text(json.dumps(numbers, indent=1))
    if args.kernels:
        args.kernels.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
