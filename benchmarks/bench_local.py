"""One agent step of the local backend on a GPU: plain ``generate``, the fast path, and the physical floor.

For each model and screenshot it prints preprocessing, time to first token, decode per
token and the whole step for a forced answer length (EOS suppressed), for

- plain: the processor on the CPU, then ``model.generate(**inputs, max_new_tokens=N)`` as the
  Qwen2.5-VL cookbook calls it (plus min_new_tokens=N to force the length);
- fast: agent/backends/local/fastpath/engine.py (GPU preprocessing, batched vision windows as a graph, graph-replayed
  decode with exact attention);
- floor: FLOPs and bytes over the matmul rate and copy bandwidth measured in the same run;

with peak GPU memory, warm-up, and whether the two paths chose the same tokens.

    python3 benchmarks/bench_local.py --compare             # 3B and 7B, desktop and phone, both pixel caps
    python3 benchmarks/bench_local.py --sizes 7b --shots desktop --max-pixels 1003520
    python3 benchmarks/bench_local.py --weights /models/Qwen2.5-VL-7B-Instruct

Random weights unless --weights; needs a CUDA GPU, no network (the tokenizer comes from qwen.tiktoken).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from dataclasses import asdict
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_floor import Ceilings, measure_ceilings, step_floor
from benchmarks.gpu_models import (
    chat_text,
    find_tiktoken,
    load_model,
    qwen_processor,
    qwen_tokenizer,
    random_model,
    screenshot,
)

log = logging.getLogger("bench_local")

SHOTS = {"desktop": (1920, 1080), "phone": (1080, 2400)}
PIXEL_CAPS = (1280 * 28 * 28, 16384 * 28 * 28)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="7b", help="comma list of 3b,7b (random weights)")
    parser.add_argument("--weights", help="a real Qwen2.5-VL directory instead of random weights")
    parser.add_argument("--compare", action="store_true", help="the issue's table: 3B and 7B, every shot and cap")
    parser.add_argument("--shots", default="desktop,phone")
    parser.add_argument("--max-pixels", default=",".join(str(c) for c in PIXEL_CAPS))
    parser.add_argument("--new-tokens", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-plain", action="store_true", help="time the fast path only")
    parser.add_argument("--tiktoken", type=Path, help="Qwen's BPE file (default: .gpu_assets or ../shared/data)")
    parser.add_argument("--out", type=Path, help="write every number as JSON here")
    parser.add_argument(
        "--cudnn-sdpa",
        action="store_true",
        help="leave cuDNN attention on for plain generate (the fast path turns it off: it made "
        "plain generate non-deterministic)",
    )
    args = parser.parse_args(argv)
    if args.compare:
        args.sizes, args.shots, args.max_pixels = "3b,7b", "desktop,phone", ",".join(str(c) for c in PIXEL_CAPS)
    return args


def timed(work: Any, cuda: bool = True) -> tuple[float, Any]:
    """(milliseconds, result) of ``work()``; on CUDA the GPU's queue is drained before and after."""
    import torch

    if cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = work()
    if cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - started) * 1000, result


def frame_for(shot: str, max_pixels: int) -> tuple[Any, tuple[int, int]]:
    """The screenshot resized to its model frame, as the agent sends it (DESIGN.md: we resize, not the server)."""
    from PIL import Image

    from qwen_gui_agent.tools.frames import smart_resize

    width, height = SHOTS[shot]
    frame_h, frame_w = smart_resize(height, width, max_pixels=max_pixels)
    return screenshot(width, height).resize((frame_w, frame_h), Image.Resampling.BICUBIC), (frame_w, frame_h)


def bench_plain(model: Any, processor: Any, text: str, image: Any, new_tokens: int, repeats: int) -> dict[str, Any]:
    import torch

    def run(count: int) -> tuple[float, float, list[int]]:
        pre_ms, inputs = timed(lambda: processor(text=[text], images=[image], return_tensors="pt").to("cuda"))
        gen_ms, out = timed(
            lambda: model.generate(**inputs, max_new_tokens=count, min_new_tokens=count, do_sample=False)
        )
        return pre_ms, gen_ms, out[0, inputs["input_ids"].shape[1] :].tolist()

    run(2)  # warm-up: cuBLAS handles, kernel choice
    torch.cuda.reset_peak_memory_stats()
    first = [run(1)[1] for _ in range(repeats)]
    full = [run(new_tokens) for _ in range(repeats)]
    ttft, whole_gen = median(first), median([f[1] for f in full])
    return {
        "preprocess_ms": median([f[0] for f in full]),
        "first_token_ms": ttft,
        "decode_ms_per_token": (whole_gen - ttft) / (new_tokens - 1),
        "step_ms": median([f[0] + f[1] for f in full]),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "tokens": full[-1][2],
    }


def bench_fast(fast: Any, processor: Any, text: str, image: Any, new_tokens: int, repeats: int) -> dict[str, Any]:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.engine import GreedyOptions

    options = GreedyOptions(eos_token_ids=(151645, 151643), min_new_tokens=new_tokens)

    def run() -> tuple[float, float, Any]:
        pre_ms, inputs = timed(lambda: fast.prepare(text, [image], processor))
        gen_ms, result = timed(lambda: fast.generate(inputs, new_tokens, options))
        return pre_ms, gen_ms, result

    cold_ms, (_, _, first) = timed(run)  # graph capture for a new cache bucket happens here, once
    torch.cuda.reset_peak_memory_stats()
    runs = [run() for _ in range(repeats)]
    results = [r[2] for r in runs]
    return {
        "preprocess_ms": median([r[0] for r in runs]),
        "vision_ms": median([r.timings["vision"] for r in results]),
        "first_token_ms": median([r.timings["prefill"] for r in results]),
        "decode_ms_per_token": median([r.timings["decode_per_token"] for r in results]),
        "step_ms": median([r[0] + r[1] for r in runs]),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "warm_up_ms": first.timings.get("warm_up", 0.0),
        "cold_call_ms": cold_ms,
        "prompt_tokens": first.prompt_tokens,
        "tokens": results[-1].tokens,
    }


def first_difference(a: list[int], b: list[int]) -> int | None:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return None if len(a) == len(b) else min(len(a), len(b))


def bench_model(name: str, model: Any, tokenizer: Any, ceilings: Ceilings, args: argparse.Namespace) -> list[dict]:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath

    fast: Any = None  # made after the first plain run, so that run keeps --cudnn-sdpa's choice
    weights_gib = torch.cuda.memory_allocated() / 2**30
    rows = []
    for cap in [int(c) for c in args.max_pixels.split(",")]:
        processor = qwen_processor(tokenizer, cap)
        for shot in args.shots.split(","):
            image, frame = frame_for(shot, cap)
            text = chat_text(frame)
            log.info("%s %s %dx%d cap %d", name, shot, *frame, cap)
            row: dict[str, Any] = {
                "model": name,
                "shot": shot,
                "frame": frame,
                "max_pixels": cap,
                "weights_gib": weights_gib,
                "paths": {},
            }
            if not args.skip_plain:
                row["paths"]["plain"] = bench_plain(model, processor, text, image, args.new_tokens, args.repeats)
            setup_ms = 0.0
            if fast is None:  # once per model: the start-up checks of fast_gemv / fast_rmsnorm and their compiles
                started = time.perf_counter()
                fast = FastPath(model)
                setup_ms = (time.perf_counter() - started) * 1000
            row["paths"]["fast"] = bench_fast(fast, processor, text, image, args.new_tokens, args.repeats)
            row["paths"]["fast"]["setup_ms"] = setup_ms
            torch.backends.cuda.enable_cudnn_sdp(args.cudnn_sdpa)  # for the next plain run
            row["static_cache_gib"] = fast.static_cache_bytes() / 2**30  # the buckets held now
            if "plain" in row["paths"]:
                row["paths"]["fast"]["first_difference"] = first_difference(
                    row["paths"]["plain"]["tokens"], row["paths"]["fast"]["tokens"]
                )
            prompt = row["paths"]["fast"]["prompt_tokens"]
            patches = frame[0] * frame[1] // 14**2
            row["floor"] = asdict(step_floor(model.config, ceilings, prompt, patches, args.new_tokens))
            row["prompt_tokens"] = prompt
            rows.append(row)
            print(json.dumps(summary(row)), flush=True)
    return rows


def summary(row: dict[str, Any]) -> dict[str, Any]:
    keep = (
        "preprocess_ms",
        "vision_ms",
        "first_token_ms",
        "decode_ms_per_token",
        "step_ms",
        "peak_gib",
        "warm_up_ms",
        "cold_call_ms",
        "setup_ms",
        "first_difference",
    )
    short = {k: v for k, v in row.items() if k != "paths"}
    for path, numbers in row["paths"].items():
        short[path] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in numbers.items() if k in keep}
    return short


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'model':5} {'shot':7} {'frame':9} {'tokens':>6} {'path':6} {'prep':>6} {'TTFT':>7} {'decode':>7} "
        f"{'step':>7} {'xfloor':>6} {'xplain':>6} {'peakGiB':>7} {'warmup':>7} same-as-plain"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        floor = row["floor"]
        frame = f"{row['frame'][0]}x{row['frame'][1]}"
        prefix = f"{row['model']:5} {row['shot']:7} {frame:9} {row['prompt_tokens']:6}"
        plain_step = row["paths"].get("plain", {}).get("step_ms")
        for path, r in row["paths"].items():
            speedup = f"{plain_step / r['step_ms']:6.2f}" if plain_step else "     -"
            difference = r.get("first_difference", "n/a")
            same = "" if path == "plain" else ("yes" if difference is None else f"no, from token {difference}")
            warm = f"{r['warm_up_ms'] / 1000:6.1f}s" if "warm_up_ms" in r else "      -"
            lines.append(
                f"{prefix} {path:6} {r['preprocess_ms']:6.1f} {r['first_token_ms']:7.1f} "
                f"{r['decode_ms_per_token']:7.2f} {r['step_ms']:7.1f} {r['step_ms'] / floor['step_ms']:6.2f} "
                f"{speedup} {r['peak_gib']:7.2f} {warm} {same}"
            )
        lines.append(
            f"{prefix} floor  {0.0:6.1f} {floor['first_token_ms']:7.1f} {floor['decode_ms']:7.2f} "
            f"{floor['step_ms']:7.1f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not torch.cuda.is_available():
        print("bench_local needs a CUDA GPU", file=sys.stderr)
        return 2
    tiktoken = find_tiktoken(args.tiktoken)
    if tiktoken is None:
        print("qwen.tiktoken not found: pass --tiktoken PATH", file=sys.stderr)
        return 2
    torch.backends.cuda.enable_cudnn_sdp(args.cudnn_sdpa)
    tokenizer = qwen_tokenizer(tiktoken)
    ceilings = measure_ceilings()
    print(
        f"device {torch.cuda.get_device_name()}  torch {torch.__version__}  "
        f"matmul {ceilings.matmul_tflops:.0f} TFLOP/s  copy {ceilings.copy_tbps:.2f} TB/s",
        flush=True,
    )
    rows: list[dict[str, Any]] = []
    models = [("real", None)] if args.weights else [(size, size) for size in args.sizes.split(",")]
    for name, size in models:
        started = time.perf_counter()
        model = load_model(args.weights) if args.weights else random_model(size)
        log.info("%s built in %.1f s", name, time.perf_counter() - started)
        rows += bench_model(name, model, tokenizer, ceilings, args)
        del model
        gc.collect()
        torch.cuda.empty_cache()
    print(table(rows), flush=True)
    for row in rows:
        if row["paths"]["fast"].get("setup_ms"):
            print(
                f"{row['model']}: FastPath set-up (start-up checks, Triton compiles) "
                f"{row['paths']['fast']['setup_ms'] / 1000:.1f} s; first call "
                f"{row['paths']['fast']['cold_call_ms'] / 1000:.1f} s",
                flush=True,
            )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "ceilings": asdict(ceilings),
                    "rows": rows,
                    "torch": torch.__version__,
                    "device": torch.cuda.get_device_name(),
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
