"""How does cuBLAS split K for the decode step's split products (k/v, down)? A GPU probe.

cuBLAS runs the k/v and down projections of one row as split-K kernels: partial sums over
pieces of K, added up by a second kernel. gpu_probe_gemv.py found that an in-order Triton
chain over the whole K differs from them in a few outputs. Here each candidate split is
emulated exactly: every piece as an in-order tensor-core chain (Triton, float32 out), the
pieces added in float32 by PyTorch in a chosen order, the bias added, one rounding to bf16.
A candidate with 0 differing outputs is cuBLAS's scheme.

    python3 benchmarks/gpu_probe_splitk.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import triton
import triton.language as tl

from benchmarks.gpu_check_kernels import differing
from qwen_gui_agent.agent.backends.local.fastpath.gemv_triton import row_times


@triton.jit
def partial_rows(x_ptr, w_ptr, out_ptr, N, K, start, stop, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    # float32 x . w[n, start:stop], K slices in order (fast_gemv's chain), not rounded.
    n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    tl.store(out_ptr + n, row_times(x_ptr, w_ptr, n, N, K, start, stop, BLOCK_N, BLOCK_K), mask=n < N)


def pieces(k: int, splits: int, tile: int) -> list[tuple[int, int]]:
    """K cut into ``splits`` runs of whole tiles, the first ones one tile longer when uneven."""
    tiles = -(-k // tile)
    base, extra = divmod(tiles, splits)
    bounds, start = [], 0
    for index in range(splits):
        stop = min(k, start + (base + (index < extra)) * tile)
        bounds.append((start, stop))
        start = stop
    return [b for b in bounds if b[0] < b[1]]


def main() -> int:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    shapes = {
        "7b k/v": (512, 3584, True),
        "7b down": (3584, 18944, False),
        "3b k/v": (256, 2048, True),
        "3b down": (2048, 11008, False),
    }
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    with torch.inference_mode():
        for name, (n, k, has_bias) in shapes.items():
            w = (torch.randn(n, k, device="cuda") * 0.02).bfloat16()
            bias = (torch.randn(n, device="cuda") * 0.02).bfloat16() if has_bias else None
            xs = [torch.randn(1, 1, k, device="cuda").bfloat16() for _ in range(8)]
            references = [F.linear(x, w, bias).view(-1) for x in xs]
            found = []
            for tile in (64, 128, 256):
                for splits in range(1, 33):
                    bounds = pieces(k, splits, tile)
                    if len(bounds) != splits:
                        continue
                    wrong = dict.fromkeys(("in order", "reversed", "pairwise"), 0)
                    for x, reference in zip(xs, references, strict=False):
                        parts = []
                        for start, stop in bounds:
                            out = torch.empty(n, device="cuda", dtype=torch.float32)
                            partial_rows[(triton.cdiv(n, 64),)](x, w, out, n, k, start, stop, BLOCK_N=64, BLOCK_K=64)
                            parts.append(out)
                        for order in wrong:
                            total = combine(parts, order)
                            if bias is not None:
                                total = total + bias.float()
                            wrong[order] += differing(total.bfloat16(), reference)
                    found += [f"tile {tile} x {splits} splits, {order}" for order, count in wrong.items() if count == 0]
            print(f"{name:8s} matches: {'; '.join(found) if found else 'none'}")
    return 0


def combine(parts, order: str):
    if order == "reversed":
        parts = parts[::-1]
    if order == "pairwise":
        while len(parts) > 1:
            parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
        return parts[0]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


if __name__ == "__main__":
    raise SystemExit(main())
