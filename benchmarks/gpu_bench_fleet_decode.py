"""The fleet's decode step with its many-row fused products on and off, in one process, on the same rows.

    python3 benchmarks/gpu_bench_fleet_decode.py --family qwen2.5 --size 7b --rows 8
    python3 benchmarks/gpu_bench_fleet_decode.py --family qwen3 --size 8b --rows 8
    python3 benchmarks/gpu_bench_fleet_decode.py --size 7b --many-configs tuned.json  # a third engine, tuned

Two FleetEngines on one random-weight model (benchmarks/gpu_models.py): one with
``fused_products`` (q/k/v, gate/up/SiLU and the head as fastpath/gemv.py's many-row Triton
kernels), one without (cuBLAS, SiLU apart). The same B conversations of benchmarks/bench_fleet.py
join both; then blocks of decode steps alternate between them, so both step at the same cache
lengths. Prints ms per step for each (``engine.step``: the graph replay and reading the tokens;
``replay``: graph replays back to back, the GPU's time alone), the tokens the two chose alike
(near-ties can go either way: other rounding), and torch.profiler's kernel table of each eager step.
``--many-configs`` (benchmarks/gpu_tune_gemv_many.py --out) adds a third engine, the fused kernels at
the model's tuned block shapes; its tokens must equal the fused engine's (the bits do not depend on
the shapes), and the script says whether they do.
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

from benchmarks.bench_fleet import conversations, model_key, read_many_configs
from benchmarks.gpu_models import FAMILIES, PATCH, find_tiktoken, qwen_processor, qwen_tokenizer, random_model
from benchmarks.gpu_profile_fleet import kernel_table


def step_ms(engine: Any, steps: int) -> tuple[float, float]:
    """(ms per ``engine.step``, ms per bare graph replay), each over ``steps`` steps."""
    import torch

    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        engine.step()
    stepped = (time.perf_counter() - started) * 1000 / steps
    graph = engine.runner._graph
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    # The replays advance the rows too (the bookkeeping is in the graph); only the host's token lists miss them.
    return stepped, start.elapsed_time(end) / steps


def main() -> int:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine
    from qwen_gui_agent.tools.frames import smart_resize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="qwen2.5")
    parser.add_argument("--size", default="", help="7b, 3b (qwen2.5); 2b, 4b, 8b, 32b (qwen3)")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20, help="decode steps per timed block")
    parser.add_argument("--blocks", type=int, default=3, help="timed blocks per engine, alternating")
    parser.add_argument("--tiktoken", type=Path, help="Qwen's BPE file (default: gpu_models.TIKTOKEN_PLACES)")
    parser.add_argument("--out", type=Path, help="the numbers as JSON")
    parser.add_argument("--many-configs", type=Path, help="gpu_tune_gemv_many.py's JSON: a third engine, tuned")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    factor = 2 * PATCH[args.family]
    size = args.size or ("8b" if args.family == "qwen3" else "7b")
    max_pixels = 1280 * factor * factor
    key = model_key(args.family, size)
    tuned = read_many_configs(args.many_configs, parser).get(key) if args.many_configs else None
    if args.many_configs and tuned is None:
        parser.error(f"{args.many_configs}: no block shapes for {key}")

    tiktoken = find_tiktoken(args.tiktoken)
    if tiktoken is None:
        print("qwen.tiktoken not found: pass --tiktoken PATH", file=sys.stderr)
        return 2
    processor = qwen_processor(qwen_tokenizer(tiktoken), max_pixels, family=args.family)
    model = random_model(size, family=args.family)
    height, width = smart_resize(1080, 1920, factor=factor, max_pixels=max_pixels)
    fast = FastPath(model)
    prepared = [fast.prepare(text, images, processor) for text, images in conversations(args.rows, (width, height))]
    # Room for every step taken here: the warm-up and capture, the timed blocks (steps and replays), the profiles.
    steps_taken = 4 + 2 * args.steps * (args.blocks + 1) + 2
    capacity = math.ceil((max(int(p["input_ids"].shape[1]) for p in prepared) + steps_taken + 1) / 256) * 256
    options = GreedyOptions(eos_token_ids=(), min_new_tokens=steps_taken)
    kinds = [("fused", True, None), ("cublas", False, None)] + ([("tuned", True, tuned)] if tuned else [])
    engines = {
        name: FleetEngine(fast, options, slots=args.rows, capacity=capacity, fused_products=fused, many_configs=configs)
        for name, fused, configs in kinds
    }
    times: dict[str, dict[str, list[float]]] = {name: {"step": [], "replay": []} for name in engines}
    for engine in engines.values():
        engine.admit_many([(p, steps_taken, index) for index, p in enumerate(prepared)])
        engine.step()  # captures the step's graph
    for engine in engines.values():
        step_ms(engine, args.steps)  # warm
    for _ in range(args.blocks):
        for name, engine in engines.items():
            stepped, replayed = step_ms(engine, args.steps)
            times[name]["step"].append(stepped)
            times[name]["replay"].append(replayed)
    fused, cublas = (engines[name] for name in ("fused", "cublas"))
    alike = sum(
        next((n for n, (a, b) in enumerate(zip(x.tokens, y.tokens, strict=False)) if a != b), len(x.tokens))
        for x, y in zip(fused.rows.values(), cublas.rows.values(), strict=True)
    )
    numbers: dict[str, Any] = {
        "device": torch.cuda.get_device_name(),
        "model": key,
        "rows": args.rows,
        "many_row_products": fused.runner.text.many_products,
        "prompt_tokens": [int(p["input_ids"].shape[1]) for p in prepared],
        "ms_per_step": {name: median(t["step"]) for name, t in times.items()},
        "ms_per_replay": {name: median(t["replay"]) for name, t in times.items()},
        "tokens_alike_before_first_difference": f"{alike} of {sum(len(row.tokens) for row in fused.rows.values())}",
    }
    if tuned:
        numbers["tuned_configs"] = [tuned.qkv, tuned.gate_up, tuned.head]
        numbers["tuned_tokens_equal_fused"] = all(
            x.tokens == y.tokens for x, y in zip(fused.rows.values(), engines["tuned"].rows.values(), strict=True)
        )
    for key, value in numbers.items():
        print(f"{key:40} {value}", flush=True)
    step, replay = numbers["ms_per_step"], numbers["ms_per_replay"]
    print(
        f"fused / cuBLAS: step {step['fused']:.3f} / {step['cublas']:.3f} ms "
        f"({100 * (1 - step['fused'] / step['cublas']):+.1f}% saved), replay {replay['fused']:.3f} / "
        f"{replay['cublas']:.3f} ms"
        + (f"; tuned: step {step['tuned']:.3f} ms, replay {replay['tuned']:.3f} ms" if tuned else ""),
        flush=True,
    )
    with torch.inference_mode():
        for name, engine in engines.items():
            print(f"## decode (eager step body), {name}\n{kernel_table(engine.runner._step_body, rows=25)}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(numbers, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
