"""Many devices, one model: agent steps per second at batch 1, 4, 8 and 16 on one GPU.

B devices each wait for one agent step (a 1920x1080 screenshot at the model's frame, the
agent's system prompt, 40 forced new tokens; or, with ``--prompt uitars5``, the UI-TARS dialect's
prompt with the four previous steps' screenshots and the current one, ~6,600 tokens); the time
until all B answers are out gives steps/s = B / time. ``--family qwen3`` times Qwen3-VL (2B, 4B,
8B, 32B) instead of Qwen2.5-VL (3B, 7B). Three ways, with the same B conversations (screens and
histories differ a little, so prompt lengths differ by a few tokens):

- plain: the processor on the CPU over all B prompts and images with left padding, then one
  ``model.generate`` (what agent/backends/local/batch.py does off CUDA);
- fleet: agent/backends/local/fleet/engine.py (what the shared local backend uses on CUDA):
  GPU preprocessing, then the B conversations join together (one vision call, the shared
  system-prompt prefix kept from the previous round, one prefill of the rest), then one
  CUDA-graph-replayed decode step for all rows with per-row lengths;
- floor: B x (vision + prefill floor) + 39 decode steps that read the weights once and B rows'
  KV caches (benchmarks/gpu_floor.py, rates measured in the same run).

Batch 1 also times the single-stream fast path (what the backend uses for a lone step).
Agreement: every conversation is also run alone through plain ``generate``; for each fleet
row, the share of its tokens equal to the lone run's before the first difference, and at a
first difference the lone run's logit gap between the two tokens (a gap of a bf16 ulp or two
is a near-tie that rounding decides). Peak GPU memory per run.

    python3 benchmarks/bench_fleet.py --sizes 7b,3b --batches 1,4,8,16 --out fleet.json
    python3 benchmarks/bench_fleet.py --family qwen3 --sizes 8b --batches 1,8 --prompt uitars5 --out fleet3.json
    python3 benchmarks/bench_fleet.py --weights DIR --device cpu --max-pixels 3136 --new-tokens 8  # a check
    python3 benchmarks/bench_fleet.py --sizes 7b --batches 8 --products fused,cublas  # the decode products both ways

``--products``: the fleet's decode step with its many-row fused q/k/v, gate/up/SiLU and head
kernels (``fused``, the default; FleetEngine's ``fused_products``), with cuBLAS's (``cublas``), with
the fused kernels at the block shapes ``--many-configs FILE`` gives for the model (``tuned``; the
JSON of benchmarks/gpu_tune_gemv_many.py --out), or each in turn on the same model and
conversations (``fused,tuned,cublas``: a table line each).

Random weights unless --weights; no network (the tokenizer comes from qwen.tiktoken).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_floor import Ceilings, language_weights, measure_ceilings, step_floor
from benchmarks.gpu_models import (
    FAMILIES,
    PATCH,
    chat_text,
    find_tiktoken,
    qwen_processor,
    qwen_tokenizer,
    random_model,
    screenshot,
    uitars_chat,
)

log = logging.getLogger("bench_fleet")
BF16 = 2
# --products: each choice's key in the JSON rows and its label in the table.
FLEET_KEYS = {"fused": "fleet", "tuned": "fleet_tuned", "cublas": "fleet_cublas"}
FLEET_LABELS = {"fleet": "", "fleet_tuned": " tuned", "fleet_cublas": " cuBLAS"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="qwen2.5")
    parser.add_argument(
        "--sizes",
        default="",
        help="comma list of 3b,7b (qwen2.5) or 2b,4b,8b,32b (qwen3); random weights (default 7b / 8b)",
    )
    parser.add_argument("--weights", help="a Qwen2.5-VL or Qwen3-VL directory (its own processor) instead")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", default="1,4,8,16")
    parser.add_argument(
        "--prompt",
        choices=("desktop", "uitars5"),
        default="desktop",
        help="one screenshot with the agent's tool prompt, or UI-TARS with five screenshots",
    )
    parser.add_argument("--max-pixels", type=int, default=0, help="frame cap (default 1280 patches of 2x2)")
    parser.add_argument("--new-tokens", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--capacity", type=int, default=0, help="fleet KV slots per row (default: fits the prompts)")
    parser.add_argument("--tiktoken", type=Path)
    parser.add_argument("--out", type=Path, help="every number as JSON")
    parser.add_argument(
        "--products", default="fused", help="comma list of fused,tuned,cublas: the fleet decode step's products"
    )
    parser.add_argument(
        "--many-configs", type=Path, help="block shapes per model for --products tuned (gpu_tune_gemv_many.py --out)"
    )
    args = parser.parse_args(argv)
    args.products = args.products.split(",")
    if not args.products or set(args.products) - set(FLEET_KEYS):
        parser.error(f"--products takes a comma list of {', '.join(FLEET_KEYS)}")
    if ("tuned" in args.products) != (args.many_configs is not None):
        parser.error("--products tuned and --many-configs FILE go together")
    args.tuned = read_many_configs(args.many_configs, parser) if args.many_configs else {}
    if args.weights:  # the directory's config says the family
        from qwen_gui_agent.tools.models import read_config

        config = read_config(Path(args.weights)) or {}
        args.family = "qwen3" if str(config.get("model_type", "")).startswith("qwen3") else "qwen2.5"
    args.sizes = args.sizes or ("8b" if args.family == "qwen3" else "7b")
    args.max_pixels = args.max_pixels or 1280 * (2 * PATCH[args.family]) ** 2
    return args


def model_key(family: str, size: str | None) -> str:
    """A benchmarked model's name, as the tuner's JSON (gpu_tune_gemv_many.py SHAPES) names it: qwen2.5-7b."""
    return f"{family}-{size or 'given'}"


def read_many_configs(path: Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """{model: gemv.ManyConfigs} from the tuner's JSON (its "configs", or such a mapping alone)."""
    from qwen_gui_agent.agent.backends.local.fastpath.gemv import ManyConfigs

    try:
        data = json.loads(path.read_text())
        mapping = data.get("configs", data)
        return {model: ManyConfigs.from_mapping(shapes) for model, shapes in mapping.items()}
    except (OSError, ValueError, AttributeError, TypeError) as error:
        parser.error(f"{path}: {error}; pass the JSON that benchmarks/gpu_tune_gemv_many.py --out writes")


def conversations(count: int, frame: tuple[int, int], prompt: str = "desktop") -> list[tuple[str, list[Any]]]:
    """``count`` (prompt, frame-sized screenshots) pairs: other screens, histories a few actions longer."""
    from PIL import Image, ImageDraw

    from benchmarks.gpu_models import USER_TASK

    def screen(index: int, step: int = 0) -> Any:
        image = screenshot(1920, 1080)
        ImageDraw.Draw(image).rectangle(
            (40 + 97 * index, 300 + 60 * step, 140 + 97 * index, 360 + 60 * step), fill=(191, 97, 106)
        )
        return image.resize(frame, Image.Resampling.BICUBIC)

    prompts = []
    for index in range(count):
        if prompt == "uitars5":
            images = [screen(index, step) for step in range(5)]
            prompts.append((uitars_chat(frame, images, f"Book train ticket number {index + 1} to Shanghai"), images))
            continue
        task = USER_TASK.replace("What is", "".join(f"{n + 3}. scroll down\n" for n in range(index % 4)) + "What is")
        prompts.append((chat_text(frame).replace(USER_TASK, task), [screen(index)]))
    return prompts


class Clock:
    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda

    def sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def ms(self, work: Any) -> tuple[float, Any]:
        self.sync()
        started = time.perf_counter()
        result = work()
        self.sync()
        return (time.perf_counter() - started) * 1000, result

    def reset_peak(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float:
        if not self.cuda:
            return 0.0
        import torch

        return torch.cuda.max_memory_allocated() / 2**30


def plain_batch(model: Any, processor: Any, convs: list[tuple[str, Any]], new_tokens: int) -> list[list[int]]:
    import torch

    from qwen_gui_agent.agent.backends.local.batch import left_padding

    with left_padding(processor.tokenizer):
        inputs = processor(
            text=[c[0] for c in convs], images=[c[1] for c in convs], padding=True, return_tensors="pt"
        ).to(model.device)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    return out[:, inputs["input_ids"].shape[1] :].tolist()


def plain_alone(model: Any, processor: Any, conv: tuple[str, Any], new_tokens: int) -> tuple[list[int], Any]:
    """Tokens and raw per-step logits (float32, on the CPU) of one conversation alone."""
    import torch

    inputs = processor(text=[conv[0]], images=[conv[1]], return_tensors="pt").to(model.device)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            output_logits=True,
            return_dict_in_generate=True,
        )
    tokens = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
    return tokens, torch.stack([step[0].float().cpu() for step in out.logits])


def agreement(rows: list[list[int]], alone: list[tuple[list[int], Any]]) -> dict[str, Any]:
    """Per row: tokens equal before the first difference; at a difference, the lone run's logit gap."""
    same, total, differences = 0, 0, []
    for index, tokens in enumerate(rows):
        reference, logits = alone[index]
        prefix = next(
            (n for n, (a, b) in enumerate(zip(tokens, reference, strict=False)) if a != b),
            min(len(tokens), len(reference)),
        )
        same += prefix
        total += len(reference)
        if prefix < len(reference):
            step = logits[prefix]
            top = float(step[reference[prefix]])
            gap = top - float(step[tokens[prefix]])
            ulp = 2.0 ** (math.floor(math.log2(abs(top))) - 7) if top else 0.0
            differences.append({"row": index, "at": prefix, "gap": gap, "gap_ulps": gap / ulp if ulp else None})
    return {
        "rate": same / total if total else 1.0,
        "rows_identical": len(rows) - len(differences),
        "rows": len(rows),
        "differences": differences,
    }


def fleet_round(
    engine: Any,
    fast: Any,
    processor: Any,
    convs: list[tuple[str, Any]],
    new_tokens: int,
    clock: Clock,
    phases: list[tuple[float, float, int]],
) -> list[list[int]]:
    """run_all's loop with every row joining at once, timed in two phases (joining, decoding) into ``phases``."""
    join_ms, _ = clock.ms(
        lambda: engine.admit_many(
            [(fast.prepare(text, images, processor), new_tokens, index) for index, (text, images) in enumerate(convs)]
        )
    )
    answers: dict[int, list[int]] = {}
    steps = 0
    started = time.perf_counter()
    while engine.rows:
        engine.step()
        steps += 1
        answers.update((tag, tokens) for tag, tokens, _ in engine.finished())
    phases.append((join_ms, (time.perf_counter() - started) * 1000, steps))
    return [answers[index] for index in range(len(convs))]


def batch_floor(
    config: Any, ceilings: Ceilings, prompt: int, patches: int, new_tokens: int, batch: int, images: int = 1
) -> float:
    """Steps/s if every phase ran at the measured rates: B first tokens, then decode reading weights once."""
    one = step_floor(config, ceilings, prompt, patches, new_tokens, images)
    _, weight_bytes = language_weights(config)
    weight_ms = weight_bytes / (ceilings.copy_tbps * 1e12) * 1e3
    cache_ms = one.decode_ms - weight_ms
    total_ms = batch * one.first_token_ms + (new_tokens - 1) * (weight_ms + batch * cache_ms)
    return batch / total_ms * 1000


def fleet_numbers(
    engine: Any,
    fast: Any,
    processor: Any,
    convs: list[tuple[str, Any]],
    args: argparse.Namespace,
    clock: Clock,
    alone: list[tuple[list[int], Any]],
) -> dict[str, Any]:
    """The fleet's rounds of ``convs`` on ``engine``: a warm-up, the timed repeats, one round without the kept prefix."""
    batch, n = len(convs), args.new_tokens
    phases: list[tuple[float, float, int]] = []

    def fleet() -> list[list[int]]:
        return fleet_round(engine, fast, processor, convs, n, clock, phases)

    warm_ms, _ = clock.ms(fleet)  # captures the step's graph
    clock.reset_peak()
    phases.clear()
    runs = [clock.ms(fleet) for _ in range(args.repeats)]
    join_ms, decode_ms, steps = phases[-1]
    engine.joiner.prefix = None  # one more round that computes the shared prefix again (a first step)
    cold_ms, _ = clock.ms(fleet)
    return {
        "steps_per_s": batch * 1000 / median(t for t, _ in runs),
        "many_row_products": engine.runner.text.many_products,
        "peak_gib": clock.peak_gib(),
        "first_call_ms": warm_ms,
        "cold_prefix_steps_per_s": batch * 1000 / cold_ms,
        "join_ms": join_ms,
        "join_ms_per_row": join_ms / batch,
        "decode_ms": decode_ms,
        "decode_ms_per_step": decode_ms / steps,
        "agreement": agreement(runs[-1][1], alone),
    }


def bench_model(
    name: str,
    model: Any,
    processor: Any,
    args: argparse.Namespace,
    ceilings: Ceilings | None,
    frame: tuple[int, int],
    tuned: Any = None,
) -> dict[str, Any]:
    """``tuned``: the many-row products' block shapes (gemv.ManyConfigs) for ``--products tuned``."""
    from qwen_gui_agent.agent.backends.local.batch import end_token_ids
    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine

    clock = Clock(args.device == "cuda")
    batches = [int(b) for b in args.batches.split(",")]
    convs = conversations(max(batches), frame, args.prompt)
    n = args.new_tokens
    started = time.perf_counter()
    fast = FastPath(model)
    setup_s = time.perf_counter() - started
    options = GreedyOptions(eos_token_ids=tuple(sorted(end_token_ids(model))), min_new_tokens=n)
    prepared = [fast.prepare(text, images, processor) for text, images in convs]
    prompts = [int(p["input_ids"].shape[1]) for p in prepared]
    capacity = args.capacity or math.ceil((max(prompts) + n + 1) / 256) * 256
    result: dict[str, Any] = {
        "model": name,
        "family": args.family,
        "prompt": args.prompt,
        "frame": frame,
        "prompt_tokens": [min(prompts), max(prompts)],
        "new_tokens": n,
        "capacity": capacity,
        "fast_setup_s": setup_s,
        "batches": {},
        "tuned_configs": asdict(tuned) if tuned else None,
    }
    alone = [plain_alone(model, processor, conv, n) for conv in convs]
    log.info("%s: %d lone plain runs done", name, len(alone))

    def single() -> list[int]:
        inputs = fast.prepare(convs[0][0], convs[0][1], processor)
        return fast.generate(inputs, n, options).tokens

    clock.ms(single)
    clock.reset_peak()
    times = [clock.ms(single) for _ in range(args.repeats + 1)]
    result["single_stream"] = {
        "steps_per_s": 1000 / median(t for t, _ in times),
        "peak_gib": clock.peak_gib(),
        "agreement": agreement([times[-1][1]], alone[:1]),
    }
    clock.ms(lambda: plain_batch(model, processor, convs[:1], 2))  # warm-up
    for batch in batches:
        row: dict[str, Any] = {}
        clock.reset_peak()
        rows_now = convs[:batch]
        plain = [clock.ms(lambda rows=rows_now: plain_batch(model, processor, rows, n)) for _ in range(args.repeats)]
        row["plain"] = {
            "steps_per_s": batch * 1000 / median(t for t, _ in plain),
            "peak_gib": clock.peak_gib(),
            "agreement": agreement(plain[-1][1], alone),
        }
        for products in args.products:
            engine = FleetEngine(
                fast,
                options,
                slots=batch,
                capacity=capacity,
                fused_products=products != "cublas",
                many_configs=tuned if products == "tuned" else None,
            )
            row[FLEET_KEYS[products]] = fleet_numbers(
                engine,
                fast,
                processor,
                convs[:batch],
                args,
                clock,
                alone,
            )
            gc.collect()
        if ceilings is not None:
            images = len(convs[0][1])
            patches = images * frame[0] * frame[1] // PATCH[args.family] ** 2
            row["floor"] = {
                "steps_per_s": batch_floor(model.config, ceilings, median(prompts), patches, n, batch, images)
            }
        result["batches"][batch] = row
        log.info("%s batch %d: %s", name, batch, json.dumps(short(row)))
    return result


def short(row: dict[str, Any]) -> dict[str, Any]:
    return {
        path: {
            k: (round(v, 3) if isinstance(v, float) else v)
            for k, v in numbers.items()
            if k in ("steps_per_s", "peak_gib", "join_ms_per_row", "decode_ms_per_step")
        }
        | ({"agree": round(numbers["agreement"]["rate"], 3)} if "agreement" in numbers else {})
        for path, numbers in row.items()
    }


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'model':21} {'batch':>5} {'plain':>7} {'fleet':>7} {'floor':>7} {'xplain':>6} {'%floor':>6} "
        f"{'agree':>6} {'same rows':>9} {'peakGiB':>7} {'join/row':>8} {'ms/step':>7}"
    )
    lines = [head, "-" * len(head)]
    for result in results:
        single = result["single_stream"]
        alone = result["batches"].get(1, result["batches"].get("1"))  # plain generate of one step, if timed
        xplain = f"{single['steps_per_s'] / alone['plain']['steps_per_s']:6.2f}" if alone else f"{'':>6}"
        lines.append(
            f"{result['model']:21} {'1*':>5} {'':>7} {single['steps_per_s']:7.2f} {'':>7} {xplain} {'':>6} "
            f"{single['agreement']['rate']:6.3f} {single['agreement']['rows_identical']:>5}/"
            f"{single['agreement']['rows']:<3} {single['peak_gib']:7.2f}"
        )
        for batch, row in result["batches"].items():
            for key in (key for key in FLEET_LABELS if key in row):
                plain, fleet = row["plain"]["steps_per_s"], row[key]["steps_per_s"]
                floor = row.get("floor", {}).get("steps_per_s")
                agree = row[key]["agreement"]
                lines.append(
                    f"{result['model'] + FLEET_LABELS[key]:21} {batch:>5} {plain:7.2f} {fleet:7.2f} "
                    f"{floor if floor else 0:7.2f} {fleet / plain:6.2f} "
                    f"{100 * fleet / floor if floor else 0:6.1f} {agree['rate']:6.3f} "
                    f"{agree['rows_identical']:>5}/{agree['rows']:<3} {row[key]['peak_gib']:7.2f} "
                    f"{row[key]['join_ms_per_row']:8.1f} {row[key]['decode_ms_per_step']:7.2f}"
                )
    lines.append(
        "1* = the single-stream fast path (a lone step; xplain against plain generate of one step). agree = share of fleet tokens equal to the same "
        "conversation alone through plain generate, before the first difference; join/row = GPU "
        "preprocessing, vision and prefill of one joining row (ms); ms/step = one decode step of all rows; "
        "cuBLAS = the decode step's q/k/v, gate/up and head on cuBLAS (--products cublas), else many-row Triton kernels "
        "where they apply (CUDA, at most 16 rows); tuned = those kernels at --many-configs' block shapes"
    )
    return "\n".join(lines)


def load(args: argparse.Namespace, size: str | None, tokenizer: Any) -> tuple[Any, Any, tuple[int, int]]:
    from qwen_gui_agent.tools.frames import smart_resize

    factor = 2 * PATCH[args.family]
    if args.weights:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model = AutoModelForImageTextToText.from_pretrained(args.weights, dtype=torch.float32).eval()
        model.to(args.device)
        processor = AutoProcessor.from_pretrained(args.weights)
        processor.image_processor.size = {"shortest_edge": 4 * factor * factor, "longest_edge": args.max_pixels}
    else:
        model = random_model(size, device=args.device, family=args.family)
        processor = qwen_processor(tokenizer, args.max_pixels, family=args.family)
    height, width = smart_resize(1080, 1920, factor=factor, max_pixels=args.max_pixels)
    return model, processor, (width, height)


def main(argv: list[str] | None = None) -> int:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    cuda = args.device == "cuda"
    if cuda and not torch.cuda.is_available():
        print("no CUDA GPU: pass --device cpu with --weights for a check", file=sys.stderr)
        return 2
    tokenizer = None
    if not args.weights:
        tiktoken = find_tiktoken(args.tiktoken)
        if tiktoken is None:
            print("qwen.tiktoken not found: pass --tiktoken PATH", file=sys.stderr)
            return 2
        tokenizer = qwen_tokenizer(tiktoken)
    ceilings = measure_ceilings() if cuda else None
    device = torch.cuda.get_device_name() if cuda else "cpu"
    print(
        f"device {device}  torch {torch.__version__}"
        + (f"  matmul {ceilings.matmul_tflops:.0f} TFLOP/s  copy {ceilings.copy_tbps:.2f} TB/s" if ceilings else ""),
        flush=True,
    )
    sizes = [None] if args.weights else args.sizes.split(",")
    untuned = [key for key in (model_key(args.family, size) for size in sizes) if key not in args.tuned]
    if "tuned" in args.products and untuned:
        print(f"{args.many_configs}: no block shapes for {', '.join(untuned)}; tune them first", file=sys.stderr)
        return 2
    results = []
    for size in sizes:
        model, processor, frame = load(args, size, tokenizer)
        key = model_key(args.family, size)
        name = key + ("/ui-tars5" if args.prompt == "uitars5" else "")
        results.append(bench_model(name, model, processor, args, ceilings, frame, args.tuned.get(key)))
        print(table(results[-1:]), flush=True)
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    print(table(results), flush=True)
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "device": device,
                    "torch": torch.__version__,
                    "results": results,
                    "ceilings": asdict(ceilings) if ceilings else None,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
