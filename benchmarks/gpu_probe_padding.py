"""Would padding the vision MLP's 3,420-wide products to 3,424 keep them bit-identical? A GPU probe.

3,420 bf16 values make a 6,840-byte row: not 16-byte aligned, so cuBLAS falls back to an sm80
kernel for the vision tower's MLP (20 of its ~40 ms on an H100). Padding the width with zero
rows (gate/up) or zero columns (down) allows the Hopper kernels. This probe compares the
padded products with the unpadded ones bit for bit and times both.

    python3 benchmarks/gpu_probe_padding.py
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_check_kernels import differing


def timed_ms(work, repeats: int = 20) -> float:
    import torch

    work()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        work()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


def main() -> int:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(0)
    width, inner, pad = 1280, 3420, 4
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    with torch.inference_mode():
        for tokens in (2912, 6528, 15456):
            x = torch.randn(tokens, width, device="cuda").bfloat16()
            w = (torch.randn(inner, width, device="cuda") * 0.03).bfloat16()
            b = (torch.randn(inner, device="cuda") * 0.03).bfloat16()
            w_pad = torch.zeros(inner + pad, width, device="cuda", dtype=torch.bfloat16)
            w_pad[:inner] = w
            b_pad = torch.zeros(inner + pad, device="cuda", dtype=torch.bfloat16)
            b_pad[:inner] = b
            up = F.linear(x, w, b)
            up_pad = F.linear(x, w_pad, b_pad)
            wrong_up = differing(up_pad[:, :inner], up)
            h = torch.randn(tokens, inner, device="cuda").bfloat16()
            wd = (torch.randn(width, inner, device="cuda") * 0.03).bfloat16()
            bd = (torch.randn(width, device="cuda") * 0.03).bfloat16()
            h_pad = F.pad(h, (0, pad))
            wd_pad = F.pad(wd, (0, pad))
            down = F.linear(h, wd, bd)
            wrong_down = differing(F.linear(h_pad, wd_pad, bd), down)
            times = [
                timed_ms(functools.partial(F.linear, *args))
                for args in ((x, w, b), (x, w_pad, b_pad), (h, wd, bd), (h_pad, wd_pad, bd))
            ]
            print(
                f"{tokens} tokens: gate/up padded differ in {wrong_up} of {up.numel()}, "
                f"down padded differ in {wrong_down} of {down.numel()}; ms gate/up {times[0]:.3f} -> {times[1]:.3f}, "
                f"down {times[2]:.3f} -> {times[3]:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
