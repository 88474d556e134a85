"""Pick the block shapes of the fleet's many-row decode products (fastpath/gemv.py's ``*_many``) on this GPU.

For the decode step of 8 rows at Qwen2.5-VL-7B's and Qwen3-VL-8B's sizes, times q/k/v, gate/up/SiLU and
the head over a grid of (BLOCK_N, BLOCK_K, warps, stages), each replayed in a CUDA graph, beside cuBLAS's
products for the same work and the time reading the weights once takes at the measured copy rate. The
calls in a graph cycle through enough copies of the weights that they come from memory, not from the
L2 cache (the 7B's q/k/v weights are 33 MB, less than an H100's or H200's 50 MB of L2; a decode step
reads each layer's weights once). Prints the five fastest per product and model and the shape gemv.py
uses now; ``--out`` writes the fastest per model as JSON that bench_fleet.py and gpu_bench_fleet_decode.py
take (``--many-configs``) and gemv.ManyConfigs.from_mapping reads. Any shape gives the same bits (the K
order does not depend on it); only the time differs.

    python3 benchmarks/gpu_tune_gemv_many.py [--rows 8] [--out tuned.json]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_probe_gemv import graph_us  # noqa: E402

GRID = list(itertools.product((16, 32, 64), (128, 256), (4, 8), (3, 4, 5)))
# hidden, q width, k/v width, MLP width, vocabulary, biased q/k/v
SHAPES = {
    "qwen2.5-7b": (3584, 3584, 512, 18944, 152064, True),
    "qwen3-8b": (4096, 4096, 1024, 12288, 151936, False),
}
COLD_BYTES = 400 * 2**20  # weights a graph cycles through: several times any L2 of this generation


def main() -> int:
    import torch

    from benchmarks.gpu_floor import measure_ceilings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--models", default=",".join(SHAPES), help=f"comma list of {', '.join(SHAPES)}")
    parser.add_argument("--out", type=Path, help="the fastest shape per model and product, and every time, as JSON")
    args = parser.parse_args()
    models = args.models.split(",")
    if set(models) - set(SHAPES):
        parser.error(f"--models takes a comma list of {', '.join(SHAPES)}")
    bandwidth = measure_ceilings().copy_tbps * 1e12  # bytes a second
    card = torch.cuda.get_device_name()
    print(f"{card}  copy {bandwidth / 1e12:.2f} TB/s  rows {args.rows}", flush=True)
    report: dict[str, Any] = {"card": card, "copy_tbps": bandwidth / 1e12, "rows": args.rows, "models": {}}
    for model in models:
        report["models"][model] = tune(model, SHAPES[model], args.rows, bandwidth)
    # What --many-configs takes: {model: {product: [BLOCK_N, BLOCK_K, warps, stages]}}.
    report["configs"] = {
        model: {product: found["best"] for product, found in products.items()}
        for model, products in report["models"].items()
    }
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))
    return 0


def over_copies(
    product: Callable[..., Any], weight_sets: list[tuple[Any, ...]], *first: Any, config: Any = None
) -> Callable[[], Any]:
    """One callable that runs ``product(*first, *weights[, config])`` on each weight copy in turn, one copy per
    call, so that a graph captured over it reads every copy."""
    extra = () if config is None else (config,)
    turn = itertools.cycle([functools.partial(product, *first, *weights, *extra) for weights in weight_sets])
    return lambda: next(turn)()


def tune(model: str, shape: tuple[int, int, int, int, int, bool], rows: int, bandwidth: float) -> dict[str, Any]:
    """The grid for one model's q/k/v, gate/up/SiLU and head at ``rows`` rows, beside cuBLAS and the weights-once
    time: per product the fastest shape, its time, the current shape's time, cuBLAS's and the floor."""
    import torch
    import torch.nn.functional as F
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import OutOfResources

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv
    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels

    hidden, q_rows, kv_rows, inner, vocab, biased = shape
    generator = torch.Generator(device="cuda").manual_seed(0)
    defaults = fast_gemv.ManyConfigs()

    def weight(height: int, width: int) -> torch.Tensor:
        return (torch.randn(height, width, generator=generator, device="cuda") * 0.02).to(torch.bfloat16)

    def projection(height: int) -> SimpleNamespace:
        return SimpleNamespace(weight=weight(height, hidden), bias=weight(1, height).view(-1) if biased else None)

    def copies(size: int) -> int:
        return max(1, -(-COLD_BYTES // size))

    def timed(work: Callable[[], Any]) -> float:
        try:
            return graph_us(work)
        except (OutOfResources, CompilationError):  # a block the GPU cannot hold: not a candidate
            return float("inf")

    x = torch.randn(rows, 1, hidden, generator=generator, device="cuda").to(torch.bfloat16)
    qkv_size = 2 * hidden * (q_rows + 2 * kv_rows)
    # Per product: the weight copies (each the arguments after x), the fused kernel at a shape, cuBLAS's
    # products for the same work, the bytes of one copy, the shape gemv.py uses now.
    attns = [
        (SimpleNamespace(q_proj=projection(q_rows), k_proj=projection(kv_rows), v_proj=projection(kv_rows)),)
        for _ in range(copies(qkv_size))
    ]
    mlp_size = 2 * 2 * hidden * inner
    mlps = [(weight(inner, hidden), weight(inner, hidden)) for _ in range(copies(mlp_size))]
    head_size = 2 * hidden * vocab
    heads = [(weight(vocab, hidden),) for _ in range(copies(head_size))]

    def qkv_cublas(attn: Any) -> list[torch.Tensor]:
        return [F.linear(x, p.weight, p.bias) for p in (attn.q_proj, attn.k_proj, attn.v_proj)]

    def gate_up_cublas(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        return fast_kernels.silu_mul(F.linear(x, gate), F.linear(x, up))

    def head_cublas(head: torch.Tensor) -> torch.Tensor:
        return F.linear(x, head).float()

    cases: dict[str, tuple[list[tuple[Any, ...]], Callable[..., Any], Callable[..., Any], int, Any]] = {
        "qkv": (attns, fast_gemv.qkv_many, qkv_cublas, qkv_size, defaults.qkv),
        "gate_up": (mlps, fast_gemv.gate_up_silu_many, gate_up_cublas, mlp_size, defaults.gate_up),
        "head": (heads, fast_gemv.head_logits_many, head_cublas, head_size, defaults.head),
    }
    found: dict[str, Any] = {}
    for product, (weight_sets, kernel, cublas_product, size, now) in cases.items():
        floor = size / bandwidth * 1e6
        base = graph_us(over_copies(cublas_product, weight_sets))
        results = sorted((timed(over_copies(kernel, weight_sets, x, config=config)), config) for config in GRID)
        current = timed(over_copies(kernel, weight_sets, x, config=now))
        best_us, best = min((current, now), results[0])  # the current shape stays unless another is faster
        print(
            f"{model} {product}: weights once {floor:.1f} us, cuBLAS {base:.1f} us, now {now} {current:.1f} us",
            flush=True,
        )
        for microseconds, config in results[:5]:
            print(f"    {config}  {microseconds:.1f} us  ({floor / microseconds:.0%} of the copy rate)", flush=True)
        found[product] = {
            "best": list(best),
            "best_us": best_us,
            "now": list(now),
            "now_us": current,
            "cublas_us": base,
            "weights_once_us": floor,
            "grid_us": {",".join(map(str, config)): (None if us == float("inf") else us) for us, config in results},
        }
    return found


if __name__ == "__main__":
    raise SystemExit(main())
