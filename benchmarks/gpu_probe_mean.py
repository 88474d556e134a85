"""Does the one-launch add + RMS norm (agent/backends/local/fastpath/rmsnorm.py) equal eager PyTorch bit for bit?

The kernel redoes the order in which ATen's CUDA reduce sums one row's float32 squares for
``mean(-1)``. Reading Reduce.cuh leaves a few candidates (fast_rmsnorm.VARIANTS: the warp
shuffle's direction, multiplying by float32(1 / W) or dividing by W, 4- or 8-wide vectors);
this probe runs each on many single rows of the 3B and 7B hidden sizes (scales 1e-3..1e3,
some rows with large outliers) and counts the rows whose variance differs from
``x.float().pow(2).mean(-1, keepdim=True)`` and the values whose norm differs from transformers'
Qwen2_5_VLRMSNorm of ``residual + delta``. Then it times the one launch against the three
launches of fast_kernels.add_rms_norm inside a CUDA graph. Exits 1 unless the default order
("aten") equals eager everywhere.

    PYTHONPATH=. python3 benchmarks/gpu_probe_mean.py
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_check_kernels import differing
from benchmarks.gpu_probe_gemv import graph_us

ROWS = 2000
EPS = 1e-6


def sample_rows(width: int, rows: int):
    """bf16 (residual, delta), rows of their own scale; every 16th row carries a few huge outliers.

    Squares of bf16 values have few bits, so short sums of them are often exact whatever the
    order: in every other row the magnitudes spread over four decades, which makes orders show.
    """
    import torch

    scales = 10.0 ** (torch.rand(rows, 1, device="cuda") * 6 - 3)
    residual = torch.randn(rows, width, device="cuda") * scales
    spread = residual[1::2]
    residual[1::2] = spread.sign() * 10 ** (torch.rand_like(spread) * 4 - 2) * scales[1::2]
    delta = torch.randn(rows, width, device="cuda") * scales * 0.5
    for row in range(0, rows, 16):
        at = torch.randint(0, width, (3,), device="cuda")
        residual[row, at] = scales[row] * torch.tensor([300.0, -1000.0, 3000.0], device="cuda")
    return residual.bfloat16(), delta.bfloat16()


def eager(norm, residual, delta):
    """Per row, as the decode step meets it: a lone (1, 1, W) row (a many-row mean sums in another order)."""
    import torch

    totals, variances, normed = [], [], []
    for row in range(residual.shape[0]):
        total = residual[row].view(1, 1, -1) + delta[row].view(1, 1, -1)
        totals.append(total)
        variances.append(total.float().pow(2).mean(-1, keepdim=True).view(1))
        normed.append(norm(total))
    return torch.cat(totals).view(residual.shape), torch.cat(variances), torch.cat(normed).view(residual.shape)


def check_width(width: int, failures: list[str]) -> None:
    import torch
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    norm = Qwen2_5_VLRMSNorm(width, eps=EPS).cuda().bfloat16()
    norm.weight.data.normal_(1.0, 0.3)
    residual, delta = sample_rows(width, ROWS)
    want_total, want_variance, want_normed = eager(norm, residual, delta)
    for name, order in fast_rmsnorm.VARIANTS.items():
        variance = torch.empty(ROWS, device="cuda")
        total, normed = fast_rmsnorm.add_rms_norm_rows(
            residual, delta, norm.weight, EPS, order=order, variance=variance
        )
        wrong = differing(variance, want_variance)
        print(f"{name} W={width}: {wrong} of {ROWS} differ (variance)")
        wrong_normed = differing(normed, want_normed)
        print(f"{name} W={width}: {wrong_normed} of {normed.numel()} differ (normed)")
        if name == "aten":
            wrong_total = differing(total, want_total)
            print(f"{name} W={width}: {wrong_total} of {total.numel()} differ (residual + delta)")
            if wrong or wrong_normed or wrong_total:
                failures.append(f"{name} W={width}")
    check_single_rows(norm, residual, delta, want_total, want_normed, failures)


def check_single_rows(norm, residual, delta, want_total, want_normed, failures: list[str]) -> None:
    """The public one-row entry point, with and without delta, row by row."""
    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    width = residual.shape[-1]
    rows = min(ROWS, 300)
    wrong = wrong_plain = 0
    for row in range(rows):
        total, normed = fast_rmsnorm.add_rms_norm_row(
            residual[row].view(1, 1, -1), delta[row].view(1, 1, -1), norm.weight, EPS
        )
        wrong += differing(total, want_total[row].view(1, 1, -1)) + differing(normed, want_normed[row].view(1, 1, -1))
        plain = residual[row].view(1, 1, -1)
        same, normed_plain = fast_rmsnorm.add_rms_norm_row(plain, None, norm.weight, EPS)
        assert same is plain, "without delta the total is the residual itself"
        wrong_plain += differing(normed_plain, norm(plain))
    print(f"add_rms_norm_row W={width}: {wrong} of {2 * rows * width} differ (total and normed)")
    print(f"add_rms_norm_row, no delta, W={width}: {wrong_plain} of {rows * width} differ (normed)")
    if wrong or wrong_plain:
        failures.append(f"add_rms_norm_row W={width}")


def time_width(width: int) -> None:
    import torch
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels
    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    norm = Qwen2_5_VLRMSNorm(width, eps=EPS).cuda().bfloat16()
    residual = torch.randn(1, 1, width, device="cuda").bfloat16()
    delta = torch.randn(1, 1, width, device="cuda").bfloat16()
    three = functools.partial(fast_kernels.add_rms_norm, residual, delta, norm.weight, EPS)
    cells = [
        f"eager {graph_us(functools.partial(eager_step, norm, residual, delta)):.2f} us",
        f"three launches {graph_us(three):.2f} us",
    ]
    for warps in (1, 2, 4, 8, 16):
        one = functools.partial(fast_rmsnorm.add_rms_norm_rows, residual, delta, norm.weight, EPS, num_warps=warps)
        cells.append(f"one launch, {warps} warps {graph_us(one):.2f} us")
    print(f"W={width} (per call, in a CUDA graph): " + " | ".join(cells))


def eager_step(norm, residual, delta):
    total = residual + delta
    return total, norm(total)


def main() -> int:
    import torch

    torch.manual_seed(0)
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    failures: list[str] = []
    with torch.inference_mode():
        for width in (2048, 3584):
            check_width(width, failures)
        for width in (2048, 3584):
            time_width(width)
    print("aten order equal bit for bit" if not failures else f"DIFFERENT: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
