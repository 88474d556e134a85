"""Pick the block shapes of the fleet's many-row decode products (fastpath/gemv.py's ``*_many``) on this GPU.

For the decode step of 8 rows at Qwen2.5-VL-7B's and Qwen3-VL-8B's sizes, times q/k/v and gate/up/SiLU
over a grid of (BLOCK_N, BLOCK_K, warps, stages), each replayed in a CUDA graph, beside cuBLAS's products
for the same work and the time reading the weights once takes at the measured copy rate. Prints the
five fastest per product and model and the configuration gemv.py uses now. Any configuration gives the
same bits (the K order does not depend on it); only the time differs.

    python3 benchmarks/gpu_tune_gemv_many.py [--rows 8]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_probe_gemv import graph_us  # noqa: E402

GRID = list(itertools.product((16, 32, 64), (128, 256), (4, 8), (3, 4, 5)))
# hidden, q width, k/v width, MLP width, biased q/k/v
SHAPES = {"qwen2.5-7b": (3584, 3584, 512, 18944, True), "qwen3-8b": (4096, 4096, 1024, 12288, False)}


def main() -> int:
    import torch

    from benchmarks.gpu_floor import measure_ceilings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    bandwidth = measure_ceilings().copy_tbps * 1e12  # bytes a second
    print(f"{torch.cuda.get_device_name()}  copy {bandwidth / 1e12:.2f} TB/s  rows {args.rows}")
    for model, shape in SHAPES.items():
        tune(model, shape, args.rows, bandwidth)
    return 0


def tune(model: str, shape: tuple[int, int, int, int, bool], rows: int, bandwidth: float) -> None:
    """The grid for one model's q/k/v and gate/up/SiLU at ``rows`` rows, beside cuBLAS and the weights-once time."""
    import torch
    import torch.nn.functional as F
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import OutOfResources

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv
    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels

    hidden, q_rows, kv_rows, inner, biased = shape
    generator = torch.Generator(device="cuda").manual_seed(0)

    def weight(height: int, width: int) -> torch.Tensor:
        return (torch.randn(height, width, generator=generator, device="cuda") * 0.02).to(torch.bfloat16)

    def projection(height: int) -> SimpleNamespace:
        return SimpleNamespace(weight=weight(height, hidden), bias=weight(1, height).view(-1) if biased else None)

    def timed(work) -> float:
        try:
            return graph_us(work)
        except (OutOfResources, CompilationError):  # a block the GPU cannot hold: not a candidate
            return float("inf")

    x = torch.randn(rows, 1, hidden, generator=generator, device="cuda").to(torch.bfloat16)
    attn = SimpleNamespace(q_proj=projection(q_rows), k_proj=projection(kv_rows), v_proj=projection(kv_rows))
    gate, up = weight(inner, hidden), weight(inner, hidden)
    cases = {
        "q/k/v": (
            lambda config: fast_gemv.qkv_many(x, attn, config),
            lambda: [F.linear(x, p.weight, p.bias) for p in (attn.q_proj, attn.k_proj, attn.v_proj)],
            2 * hidden * (q_rows + 2 * kv_rows),
            fast_gemv.QKV_MANY_CONFIG,
        ),
        "gate/up/silu": (
            lambda config: fast_gemv.gate_up_silu_many(x, gate, up, config),
            lambda: fast_kernels.silu_mul(F.linear(x, gate), F.linear(x, up)),
            2 * 2 * hidden * inner,
            fast_gemv.GATE_UP_CONFIG,
        ),
    }
    for product, (fused, cublas, size, now) in cases.items():
        floor = size / bandwidth * 1e6
        base = graph_us(cublas)
        results = sorted((timed(functools.partial(fused, config)), config) for config in GRID)
        current = timed(functools.partial(fused, now))
        print(
            f"{model} {product}: weights once {floor:.1f} us, cuBLAS {base:.1f} us, now {now} {current:.1f} us",
            flush=True,
        )
        for microseconds, config in results[:5]:
            print(f"    {config}  {microseconds:.1f} us  ({floor / microseconds:.0%} of the copy rate)")


if __name__ == "__main__":
    raise SystemExit(main())
