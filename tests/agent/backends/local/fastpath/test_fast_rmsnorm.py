"""The one-launch add + RMS norm (agent/backends/local/fastpath/rmsnorm.py): its launch shape, and its
kernel run by Triton's CPU interpreter against a plain float32 model of ATen's summation order.

The interpreter adds float32 exactly as IEEE says, so the kernel's variance must equal the
model bit for bit; it truncates float32 -> bf16 where the GPU rounds, so the norm is compared
with eager PyTorch within bf16 steps. Equality with PyTorch's own CUDA mean is checked on the
GPU by benchmarks/gpu_probe_mean.py.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.agent.backends.local.fastpath.test_fast_kernels import run_in_interpreter

torch = pytest.importorskip("torch")

SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import torch
from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

def truncate(t):  # float32 -> bf16 the interpreter's way
    return (t.float().view(torch.int32) & -65536).view(torch.float32).to(torch.bfloat16)

def model_sum(squares, threads, vector, halvings, pairwise_fold=False):
    # ATen's order written out with whole-tensor float32 adds (each one IEEE-rounded, no reassociation):
    # thread t adds its vectors t, t + threads, ... into one accumulator per vector element, folds
    # them left to right, then the block's tree: `halvings` levels of t + n/2, then adjacent pairs.
    vectors = squares.view(-1, vector)
    acc = torch.zeros(threads, vector)
    for start in range(0, vectors.shape[0], threads):
        chunk = vectors[start:start + threads]
        acc[:chunk.shape[0]] = acc[:chunk.shape[0]] + chunk
    value = acc[:, 0]
    for i in range(1, vector):
        value = value + acc[:, i]
    if pairwise_fold:  # not ATen's: only here to show that the data tell the fold orders apart
        value = (acc[:, 0] + acc[:, 1]) + (acc[:, 2] + acc[:, 3])
    for _ in range(halvings):
        value = value[:value.numel() // 2] + value[value.numel() // 2:]
    while value.numel() > 1:
        value = value[0::2] + value[1::2]
    return value

def model_mean(total_row, order, threads, halvings):
    s = model_sum(total_row.float().pow(2), threads, order.vector, halvings)
    width = torch.tensor(float(total_row.numel()))
    return s / width if order.divide else s * (torch.tensor(1.0) / width)

# From Reduce.cuh for one row of 2048, 3584 or 5120: 512 threads (256 with 8-wide vectors for the
# first two); a tree of 9 (8) levels, the last 5 in the warp (module docstring of fast_rmsnorm).
# 5120 gives a thread three vectors (2.5 rounds of 512): the kernel's masked fourth must add nothing.
SHAPES = {"aten": (512, 9), "ascending_warp": (512, 4), "divide": (512, 9), "vector8": (256, 8)}
SHAPES_5120 = dict(SHAPES, vector8=(512, 9))

torch.manual_seed(0)
for width in (2048, 3584, 5120):
    rows = 48
    scales = 10.0 ** torch.linspace(-3, 3, rows).view(rows, 1)
    residual = torch.randn(rows, width) * scales
    # Squares of bf16 values have few bits, so short sums are often exact whatever their order: rows
    # whose magnitudes spread over four decades make the orders' roundings show.
    spread = torch.arange(rows) % 4 != 0
    residual[spread] = residual[spread].sign() * 10 ** (torch.rand(int(spread.sum()), width) * 4 - 2) * scales[spread]
    residual[::4, :3] = scales[::4] * torch.tensor([300.0, -1000.0, 3000.0])  # outliers
    residual, delta = residual.bfloat16(), (torch.randn(rows, width) * scales).bfloat16()
    norm = Qwen2_5_VLRMSNorm(width, eps=1e-6).to(torch.bfloat16)
    norm.weight.data.normal_(1, 0.3)
    want_total = truncate(residual.float() + delta.float())
    models = {}
    for name, order in fast_rmsnorm.VARIANTS.items():
        threads, halvings = (SHAPES_5120 if width == 5120 else SHAPES)[name]
        variance = torch.empty(rows)
        total, normed = fast_rmsnorm.add_rms_norm_rows(residual, delta, norm.weight.data, 1e-6, order=order,
                                                        variance=variance)
        assert torch.equal(total, want_total), ("residual add", name, width)
        model = torch.cat([model_mean(total[row], order, threads, halvings) for row in range(rows)])
        assert torch.equal(variance.view(torch.int32), model.view(torch.int32)), ("variance", name, width)
        models[name] = model
    # The data tell the orders apart, so the equalities above pin the order down.
    assert not torch.equal(models["aten"], models["ascending_warp"]), width
    assert not torch.equal(models["aten"], models["vector8"]), width
    naive = want_total.float().pow(2).sum(-1) * (torch.tensor(1.0) / width)
    pairwise = torch.cat([model_sum(want_total[row].float().pow(2), 512, 4, 9, pairwise_fold=True)
                          for row in range(rows)]) * (torch.tensor(1.0) / width)
    assert not torch.equal(models["aten"], pairwise), width
    assert not torch.equal(models["aten"], naive), width
    if width != 2048:  # 1 / W is not a power of two: multiplying and dividing differ
        assert not torch.equal(models["aten"], models["divide"])
    # One row, the public entry point, against eager transformers (two roundings of slack here).
    for row in range(0, rows, 5):
        one_residual, one_delta = residual[row].view(1, 1, -1), delta[row].view(1, 1, -1)
        total, normed = fast_rmsnorm.add_rms_norm_row(one_residual, one_delta, norm.weight.data, 1e-6)
        assert total.shape == (1, 1, width) and torch.equal(total, want_total[row].view(1, 1, -1))
        assert torch.allclose(normed.float(), norm(total).float(), rtol=2 ** -6, atol=0), ("normed", row)
        same, plain = fast_rmsnorm.add_rms_norm_row(one_residual, None, norm.weight.data, 1e-6)
        assert same is one_residual, "without delta the total is the residual itself"
        assert torch.allclose(plain.float(), norm(one_residual).float(), rtol=2 ** -6, atol=0), ("plain", row)
    # The interpreter truncates where eager rounds, so the start-up check must say "not equal" here.
    assert fast_rmsnorm.equals_eager(norm, rows=3) is False
print("ok")
"""


def test_launch_shape_follows_aten_set_reduce_config() -> None:
    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    aten = fast_rmsnorm.row_launch(3584)
    assert (aten.threads, aten.rounds, aten.vector, aten.levels, aten.halvings) == (512, 2, 4, 9, 9)
    assert fast_rmsnorm.row_launch(2048).rounds == 1
    assert fast_rmsnorm.row_launch(1280).threads == 256  # 320 vectors: last power of two
    ascending = fast_rmsnorm.row_launch(2048, fast_rmsnorm.VARIANTS["ascending_warp"])
    assert (ascending.levels, ascending.halvings) == (9, 4)  # shared memory to a warp, then 5 shuffles
    assert fast_rmsnorm.row_launch(3584, fast_rmsnorm.VARIANTS["vector8"]).threads == 256
    for width in (128, 2050, 1 << 17):  # unvectorized, a tail, split across blocks
        with pytest.raises(ValueError):
            fast_rmsnorm.row_launch(width)


def test_mean_factor_is_float32_one_over_width() -> None:
    import numpy as np

    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    assert fast_rmsnorm.mean_factor(3584) == float(np.float32(1) / np.float32(3584))
    assert fast_rmsnorm.mean_factor(3584) != 1 / 3584  # the float32 rounding is kept
    assert fast_rmsnorm.mean_factor(3584, fast_rmsnorm.VARIANTS["divide"]) == 3584.0


def test_rejects_what_it_does_not_emulate() -> None:
    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    weight = torch.ones(2048, dtype=torch.bfloat16)
    with pytest.raises(ValueError):
        fast_rmsnorm.add_rms_norm_row(torch.ones(1, 2, 2048, dtype=torch.bfloat16), None, weight, 1e-6)
    with pytest.raises(ValueError):
        fast_rmsnorm.add_rms_norm_row(torch.ones(1, 1, 2048), None, weight, 1e-6)  # float32


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_variance_follows_the_modelled_order_in_the_triton_interpreter() -> None:
    assert run_in_interpreter(SCRIPT).endswith("ok")
