"""Pick the block shapes of the fused decode products (agent/backends/local/fastpath/gemv.py) on this GPU.

Times gate/up/SiLU and q/k/v for the 7B shapes over a grid of (BLOCK_N, BLOCK_K, warps,
stages), each replayed in a CUDA graph, prints the five fastest per product next to the
configuration fast_gemv uses now, and times those on the 3B shapes too. Any configuration gives
the same bits (the K order does not depend on them); only the time differs. (The head already
reads its weights at ~3 TB/s.)

    python3 benchmarks/gpu_tune_gemv.py
"""

from __future__ import annotations

import functools
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_probe_gemv import decode_shapes, fused_case, graph_us

GRID = list(itertools.product((32, 64, 128), (128, 256, 512), (4, 8), (2, 3, 4)))


def timed(kernel: str, x, weights, config) -> float:
    from triton.compiler.errors import CompilationError
    from triton.runtime.errors import OutOfResources

    try:
        return graph_us(functools.partial(fused_case, kernel, x, weights, config))
    except (OutOfResources, CompilationError) as error:  # a block the GPU cannot hold: not a candidate
        print(f"  {kernel} {config}: {type(error).__name__}")
        return float("inf")


def main() -> int:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    torch.manual_seed(0)
    current = {"gate/up/silu": fast_gemv.GATE_UP_CONFIG, "q/k/v": fast_gemv.QKV_CONFIG}
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    with torch.inference_mode():
        big, small = decode_shapes("7b"), decode_shapes("3b")
        for kernel, now in current.items():
            times = {config: timed(kernel, *big, config) for config in GRID}
            best = sorted(times, key=times.get)[:5]
            print(
                f"7b {kernel:13s} now {now}: {times[now]:.1f} us | best "
                + " | ".join(f"{c}: {times[c]:.1f}" for c in best)
            )
            print(f"3b {kernel:13s} " + " | ".join(f"{c}: {timed(kernel, *small, c):.1f}" for c in [now, *best]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
