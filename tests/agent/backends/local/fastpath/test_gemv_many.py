"""The fleet's many-row fused products (fastpath/gemv.py ``*_many``, gemv_many_triton.py) in Triton's interpreter.

Each row of a many-row product must be the one-row kernel's result for that row alone: the
interpreter computes both with the same float32 dot per column, so they must be equal bit for bit
here too. Against F.linear they are within a bf16 step (the interpreter truncates float32 -> bf16
where the GPU rounds). Bit-identity with the one-row kernels on the GPU: benchmarks/gpu_check_kernels.py.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.agent.backends.local.fastpath.test_fast_kernels import run_in_interpreter

torch = pytest.importorskip("torch")

KERNELS_SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import torch
import torch.nn.functional as F
from transformers import Qwen2Config
from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer
from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

def truncate(t):  # float32 -> bf16 the interpreter's way
    return (t.float().view(torch.int32) & -65536).view(torch.float32).to(torch.bfloat16)

def within_bf16_step(got, exact):  # exact: the float32 result, which one truncation to bf16 is under a step from
    return bool(((got.float() - exact).abs() <= exact.abs() * 2 ** -7 + 1e-6).all())

torch.manual_seed(0)
config = (32, 64, 4, 4)  # BLOCK_N, BLOCK_K: 200 rows and a width of 300 are multiples of neither
rows, width = 200, 300
gate = (torch.randn(rows, width) * 0.1).to(torch.bfloat16)
up = (torch.randn(rows, width) * 0.1).to(torch.bfloat16)
# q/k/v of 5 heads of 60 and one key head: 300 and 60 output columns, biased.
qwen2 = Qwen2Config(hidden_size=width, intermediate_size=rows, num_attention_heads=5, num_key_value_heads=1,
                    hidden_act="silu")
layer = Qwen2DecoderLayer(qwen2, 0).to(torch.bfloat16)
with torch.no_grad():
    for name, param in layer.named_parameters():  # biases as large as the products: a dropped one is far off
        param.normal_(0.0, 1.0 if name.endswith("bias") else 0.05)
attn = layer.self_attn
unbiased = Qwen2DecoderLayer(qwen2, 0).to(torch.bfloat16).self_attn
for mine, theirs in zip((unbiased.q_proj, unbiased.k_proj, unbiased.v_proj), (attn.q_proj, attn.k_proj, attn.v_proj)):
    mine.weight, mine.bias = theirs.weight, None
assert attn.q_proj.weight.shape == (300, 300) and attn.k_proj.weight.shape == (60, 300)

for count in (1, 3, 8, 16):
    x = torch.randn(count, 1, width).to(torch.bfloat16)  # the fleet's (rows, 1 token, hidden)
    g, u = F.linear(x.float(), gate.float()), F.linear(x.float(), up.float())

    got = fast_gemv.gate_up_silu_many(x, gate, up, config)
    assert got.shape == (count, 1, rows) and got.dtype == torch.bfloat16
    for m in range(count):
        assert torch.equal(got[m:m + 1], fast_gemv.gate_up_silu(x[m:m + 1], gate, up, config)), ("gate/up", count, m)
    # Four truncations (gate, up, silu, product), each under a bf16 step; the gate's is carried through silu.
    sigmoid = torch.sigmoid(g)
    slope = sigmoid * (1 + g * (1 - sigmoid))  # silu'
    bound = 2 ** -7 * (3 * (g * sigmoid * u).abs() + (g * slope * u).abs()) * 1.01 + 1e-6
    assert bool(((got.float() - g * sigmoid * u).abs() <= bound).all()), ("gate/up vs F.linear", count)

    logits = fast_gemv.head_logits_many(x[:, -1, :], gate, config)
    assert logits.shape == (count, rows) and logits.dtype == torch.float32
    for m in range(count):
        assert torch.equal(logits[m], fast_gemv.head_logits(x[m], gate, config)), ("head", count, m)
    assert within_bf16_step(logits, g[:, -1, :]), ("head vs F.linear", count)

    for projections, name in ((attn, "biased"), (unbiased, "no bias")):
        q, k, v = fast_gemv.qkv_many(x, projections, config)
        assert q.shape == (count, 1, 300) and k.shape == v.shape == (count, 1, 60)
        for m in range(count):
            alone = fast_gemv.qkv(x[m:m + 1], projections, (1, 1), config)
            for many, one in zip((q, k, v), alone):
                assert torch.equal(many[m:m + 1], one), (name, count, m)
        for got_p, p in zip((q, k, v), (projections.q_proj, projections.k_proj, projections.v_proj)):
            exact = F.linear(x.float(), p.weight.float(), None if p.bias is None else p.bias.float())
            assert within_bf16_step(got_p, exact), (name, count)

# Rows past x's are neither read into a stored result nor written: x is the first 3 rows of a buffer whose
# other rows are NaN, the outputs the first rows of buffers filled with 7.
buffer = torch.full((16, width), float("nan")).to(torch.bfloat16)
buffer[:3] = torch.randn(3, width).to(torch.bfloat16)
x = buffer[:3]
out = torch.full((16, rows), 7.0).to(torch.bfloat16)
fast_gemv.gate_up_silu_many(x, gate, up, config, out=out)
assert torch.equal(out[:3], fast_gemv.gate_up_silu_many(x.clone(), gate, up, config)), "gate/up into out"
assert bool((out[3:] == 7).all()), "gate/up wrote past its rows"
out = torch.full((16, rows), 7.0)
fast_gemv.head_logits_many(x, gate, config, out=out)
assert torch.equal(out[:3], fast_gemv.head_logits_many(x.clone(), gate, config)), "head into out"
assert bool((out[3:] == 7).all()), "head wrote past its rows"
outs = tuple(torch.full((16, n), 7.0).to(torch.bfloat16) for n in (300, 60, 60))
fast_gemv.qkv_many(x, attn, config, out=outs)
for got_p, want in zip(outs, fast_gemv.qkv_many(x.clone(), attn, config)):
    assert torch.equal(got_p[:3], want) and bool((got_p[3:] == 7).all()), "q/k/v wrote past its rows"
assert not any(bool(t[:3].isnan().any()) for t in outs), "NaN rows read into the results"

for bad in (torch.zeros(17, 1, width), torch.zeros(0, width)):
    try:
        fast_gemv.gate_up_silu_many(bad.to(torch.bfloat16), gate, up, config)
    except ValueError:
        pass
    else:
        raise AssertionError(f"{bad.shape[0]} rows taken")
print("ok")
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_many_row_products_equal_the_one_row_kernels_per_row() -> None:
    assert run_in_interpreter(KERNELS_SCRIPT).endswith("ok")
