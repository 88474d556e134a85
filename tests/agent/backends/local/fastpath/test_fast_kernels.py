"""The exact Triton kernels, run on the CPU by Triton's interpreter: indexing and arithmetic.

The interpreter rounds float32 -> bf16 by truncation where the GPU rounds to nearest even, so
here the results must match eager PyTorch within one bf16 step (and match a truncating model of
the same arithmetic exactly); bit-identity on the GPU is checked by benchmarks/gpu_check_tokens.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[5]
# The interpreter runs each kernel program by program in numpy: a few seconds to a minute alone, many
# minutes on a busy 2-core machine. The limit only catches a hang; it says nothing about speed.
INTERPRETER_TIMEOUT_S = 1800

SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import torch
from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels
from qwen_gui_agent.agent.backends.local.fastpath.model import rotate_half
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

def truncate(t):  # float32 -> bf16 the interpreter's way
    return (t.float().view(torch.int32) & -65536).view(torch.float32).to(torch.bfloat16)

torch.manual_seed(0)
norm = Qwen2_5_VLRMSNorm(256, eps=1e-6).to(torch.bfloat16)
norm.weight.data.normal_(1, 0.1)
x = torch.randn(1, 1, 256).to(torch.bfloat16)
got = fast_kernels.rms_norm(x, norm.weight.data, norm.variance_epsilon)
assert torch.allclose(got.float(), norm(x).float(), rtol=2 ** -6, atol=0), "rms norm"  # two roundings

heads, kv_heads, dim, slots, slot = 6, 2, 64, 9, 4
q = torch.randn(1, 1, heads * dim).to(torch.bfloat16).view(1, 1, heads, dim).transpose(1, 2)
k = torch.randn(1, 1, kv_heads * dim).to(torch.bfloat16).view(1, 1, kv_heads, dim).transpose(1, 2)
v = torch.randn(1, 1, kv_heads * dim).to(torch.bfloat16).view(1, 1, kv_heads, dim).transpose(1, 2)
angles = torch.rand(1, 1, dim) * 50
cos, sin = angles.cos().to(torch.bfloat16), angles.sin().to(torch.bfloat16)
keys = torch.full((1, kv_heads, slots, dim), 7.0, dtype=torch.bfloat16)
values = keys.clone()
q_out = fast_kernels.rotate_and_store(q, k, v, cos, sin, keys, values, torch.tensor([slot]))
for x, out in ((q, q_out), (k, keys[:, :, slot:slot + 1])):
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    model = truncate(truncate(x.float() * c.float()).float() + truncate(rotate_half(x).float() * s.float()).float())
    assert torch.equal(out, model), "rotary arithmetic"
    eager = x * c + rotate_half(x) * s
    assert torch.allclose(out.float(), eager.float(), rtol=2 ** -6, atol=1e-2), "rotary"
assert torch.equal(values[:, :, slot:slot + 1], v), "value written at the slot"
untouched = torch.cat([keys[:, :, :slot], keys[:, :, slot + 1:], values[:, :, :slot], values[:, :, slot + 1:]], 2)
assert bool((untouched == 7.0).all()), "other slots untouched"

# Residual add + RMS norm: the sum is one rounding (the truncating model's here), the norm of that
# sum within two roundings.
residual, delta = torch.randn(1, 1, 256).to(torch.bfloat16), torch.randn(1, 1, 256).to(torch.bfloat16)
total, normed = fast_kernels.add_rms_norm(residual, delta, norm.weight.data, norm.variance_epsilon)
assert torch.equal(total, truncate(residual.float() + delta.float())), "residual add"
assert torch.allclose(normed.float(), norm(total).float(), rtol=2 ** -6, atol=0), "add + rms norm"

# silu(gate) * up, over a range wide enough to reach exp's overflow (x < -88) and silu's tails.
gate = (torch.randn(3000) * 30).to(torch.bfloat16)
up = torch.randn(3000).to(torch.bfloat16)
got = fast_kernels.silu_mul(gate, up)
g = gate.float()
model = truncate(truncate(g / (1 + torch.exp(-g))).float() * up.float())
assert torch.equal(got, model), "silu * up arithmetic"
eager = torch.nn.functional.silu(gate) * up
assert torch.allclose(got.float(), eager.float(), rtol=2 ** -6, atol=1e-30), "silu * up"

# Vision rotary read from the fused qkv projection: 5 heads of 80 (not powers of two, so masked).
tokens, heads, dim = 7, 5, 80
qkv = torch.randn(tokens, 3 * heads * dim).to(torch.bfloat16)
angles = torch.rand(tokens, dim) * 40
cos, sin = angles.cos(), angles.sin()
q_out, k_out = fast_kernels.vision_rope(qkv, cos, sin, heads)
q, k, _ = qkv.reshape(tokens, 3, heads, dim).permute(1, 0, 2, 3).unbind(0)
for x, out in ((q, q_out), (k, k_out)):
    xf = x.float()
    exact = (xf * cos.unsqueeze(-2)) + (rotate_half(xf) * sin.unsqueeze(-2))
    assert out.shape == (tokens, heads, dim) and out.is_contiguous()
    assert torch.equal(out, truncate(exact)), "vision rotary"
print("ok")
"""


VISION_SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import dataclasses
import torch
from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel
from qwen_gui_agent.agent.backends.local.fastpath.vision import FastVision

# A bf16 tower whose MLP is 60 wide (not a multiple of 8, so the gate/up weights get padded).
config = Qwen2_5_VLVisionConfig(depth=3, hidden_size=32, intermediate_size=60, num_heads=2, out_hidden_size=48,
                                fullatt_block_indexes=[1], window_size=112, hidden_act="silu")
torch.manual_seed(0)
visual = Qwen2_5_VisionTransformerPretrainedModel._from_config(config).to(torch.bfloat16).eval()
with torch.no_grad():
    for name, param in visual.named_parameters():  # norms and biases away from their 1 / 0 defaults
        param.normal_(1.0 if "norm" in name else 0.0, 0.3 if "norm" in name else 0.1)
grid = (1, 8, 12)
pixels = torch.randn(8 * 12, 3 * 2 * 14 * 14).to(torch.bfloat16)
with torch.inference_mode():
    expected = visual(pixels, grid_thw=torch.tensor([grid])).pooler_output
    gate = visual.blocks[0].mlp.gate_proj.weight.clone()
    fast = FastVision(visual, graphs=False, kernels=True)
    padded = fast._mlp_weights[0]
    weight = visual.blocks[0].mlp.gate_proj.weight
    assert weight.shape == (60, 32) and weight.is_contiguous() and torch.equal(weight, gate), "parameter unchanged"
    assert padded.gate.shape == (64, 32) and padded.gate.data_ptr() == weight.data_ptr(), "one copy, padded"
    assert bool((padded.gate[60:] == 0).all()) and bool((padded.up_bias[60:] == 0).all()), "zero padding"
    assert torch.equal(visual(pixels, grid_thw=torch.tensor([grid])).pooler_output, expected), "module unchanged"
    got = fast.forward(pixels, (grid,)).embeds
    # Two screens at once (the fleet's joins): patch embedding as a product, down projection on padded width.
    second = torch.randn_like(pixels)
    alone = fast.forward(second, (grid,)).embeds
    both = fast.forward(torch.cat([pixels, second]), (grid, grid), batched=True).embeds
    assert fast._down[0].shape == (32, 64) and bool((fast._down[0][:, 60:] == 0).all()), "zero columns"
    for part, single in zip(both.split(len(got)), (got, alone)):
        gap = ((part.float() - single.float()).norm() / single.float().norm()).item()
        assert gap < 0.01, gap  # other products' rounding only: another screen's pixels would be far off
# The interpreter truncates where the GPU rounds: close, not equal (a wiring mistake is far off).
    # The padding check compares padded and unpadded products; padded rows that change a value fail it.
    assert fast.check_padding(fast.forward(pixels, (grid,)).embeds, pixels, (grid,)) is True
    # (The parameters are views of the padded storage, so a changed weight changes both paths alike:
    # a separate copy stands in for a padded product that rounds differently.)
    changed = fast._mlp_weights[1].up.clone()
    changed[5, 0] += 1.0
    fast._mlp_weights[1] = dataclasses.replace(fast._mlp_weights[1], up=changed)
    padded = fast.forward(pixels, (grid,)).embeds
    assert fast.check_padding(padded, pixels, (grid,)) is False and fast._mlp_weights is None, "falls back"
    assert torch.equal(fast.forward(pixels, (grid,)).embeds, fast.forward(pixels, (grid,), padded=False).embeds)
error = ((got.float() - expected.float()).norm() / expected.float().norm()).item()
assert error < 0.01, error  # 0.005 here; a wrong norm or a dropped residual gives ~0.025
print("ok", error)
"""


GEMV_SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import torch
import torch.nn.functional as F
from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

def truncate(t):  # float32 -> bf16 the interpreter's way
    return (t.float().view(torch.int32) & -65536).view(torch.float32).to(torch.bfloat16)

torch.manual_seed(0)
# Sizes that are not multiples of the blocks: masked rows and a partial last K slice.
rows, width = 200, 300
x = torch.randn(1, 1, width).to(torch.bfloat16)
gate = (torch.randn(rows, width) * 0.1).to(torch.bfloat16)
up = (torch.randn(rows, width) * 0.1).to(torch.bfloat16)
g, u = F.linear(x.float(), gate.float()), F.linear(x.float(), up.float())  # float32 products
for config in ((64, 128, 4, 3), (32, 64, 4, 4)):
    got = fast_gemv.gate_up_silu(x, gate, up, config)
    assert got.shape == (1, 1, rows)
    gt, ut = truncate(g).float(), truncate(u).float()
    model = truncate(truncate(gt / (1 + torch.exp(-gt))).float() * ut)
    # The interpreter sums each K slice in its own order: within a float32 ulp or two of F.linear's.
    close = (got.float() - model.float()).abs() <= model.float().abs() * 2 ** -7 + 1e-6
    assert bool(close.all()), "gate/up/silu"
    logits = fast_gemv.head_logits(x[:, -1, :], gate, config)
    assert logits.dtype == torch.float32 and logits.shape == (rows,)
    assert torch.allclose(logits, truncate(g).float().view(-1), rtol=2 ** -7, atol=1e-6), "head logits"

# q/k/v with biases in one launch, K in pieces (the split-K emulation): each within bf16 rounding.
from transformers import Qwen2Config
from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer

config = Qwen2Config(hidden_size=256, intermediate_size=320, num_attention_heads=4, num_key_value_heads=2,
                     hidden_act="silu")
layer = Qwen2DecoderLayer(config, 0).to(torch.bfloat16)
with torch.no_grad():
    for param in layer.parameters():
        param.normal_(0.0, 0.05)
attn = layer.self_attn
x = torch.randn(1, 1, 256).to(torch.bfloat16)
for splits in ((1, 1), (1, 2), (2, 4)):
    q, k, v = fast_gemv.qkv(x, attn, splits, (32, 64, 4, 4))
    for got, projection in ((q, attn.q_proj), (k, attn.k_proj), (v, attn.v_proj)):
        exact = torch.nn.functional.linear(x.float(), projection.weight.float(), projection.bias.float())
        assert got.shape == exact.shape and torch.allclose(got.float(), exact, rtol=2 ** -7, atol=2e-2), splits
    assert torch.equal(fast_gemv.linear(x, attn.k_proj.weight, attn.k_proj.bias, splits[1], (32, 64, 4, 4)),
                       k), "linear == qkv's k"
# Without biases (Qwen3-VL's projections): the same products, nothing added.
for projection in (attn.q_proj, attn.k_proj, attn.v_proj):
    projection.bias = None
q, k, v = fast_gemv.qkv(x, attn, (1, 2), (32, 64, 4, 4))
for got, projection in ((q, attn.q_proj), (k, attn.k_proj), (v, attn.v_proj)):
    exact = torch.nn.functional.linear(x.float(), projection.weight.float())
    assert torch.allclose(got.float(), exact, rtol=2 ** -7, atol=2e-2), "no bias"
assert torch.equal(fast_gemv.linear(x, attn.k_proj.weight, None, 2, (32, 64, 4, 4)), k), "linear == qkv's k, no bias"
# The interpreter truncates where F.linear rounds, so nothing equals cuBLAS here: the plan keeps cuBLAS.
assert fast_gemv.plan_for(layer, torch.nn.Linear(256, 64, bias=False).to(torch.bfloat16)) == fast_gemv.GemvPlan()
print("ok")
"""


# The fleet's split-KV decode attention (fleet/attention.py) against SDPA over each row's own keys.
FLEET_ATTENTION_SCRIPT = r"""
from tests.support.triton_interpreter import patch
patch()
import torch
import torch.nn.functional as F
from qwen_gui_agent.agent.backends.local.fleet.attention import decode_attention
torch.manual_seed(0)
rows, kv_heads, group, capacity, dim = 4, 2, 7, 160, 32
q = torch.randn(rows, kv_heads * group, dim).to(torch.bfloat16)
keys = torch.randn(rows, kv_heads, capacity, dim).to(torch.bfloat16)
values = torch.randn(rows, kv_heads, capacity, dim).to(torch.bfloat16)
length = torch.tensor([0, 63, 64, 159])  # one key; a stretch's edge; past it; the whole cache
for chunk in (64, 128):  # one 64-key block a stretch; two (the online softmax across blocks)
  got = decode_attention(q, keys, values, length, dim ** -0.5, chunk=chunk)
  for r in range(rows):
    n = int(length[r]) + 1
    k = keys[r, :, :n].float().repeat_interleave(group, 0)
    v = values[r, :, :n].float().repeat_interleave(group, 0)
    want = F.scaled_dot_product_attention(q[r].float().unsqueeze(1), k, v, scale=dim ** -0.5).squeeze(1)
    err = (got[r].float() - want).abs().max().item()
    assert err < 0.02, (chunk, r, err)  # bf16 probabilities and a truncating interpreter: within a few bf16 steps
# Every row's keys beyond its length are ignored: garbage there changes nothing.
keys2, values2 = keys.clone(), values.clone()
for r in range(rows):
    keys2[r, :, int(length[r]) + 1:] = 1e4
    values2[r, :, int(length[r]) + 1:] = float("nan")
assert torch.equal(decode_attention(q, keys2, values2, length, dim ** -0.5, chunk=128), got)

# Rotary and stores: decoding (one token a row, at each row's length) and a prefill (rows of 3 tokens that go
# to other cache rows, from position 5): q rotated, k and v written where they belong, nothing else.
from qwen_gui_agent.agent.backends.local.fastpath.model import apply_rope
from qwen_gui_agent.agent.backends.local.fleet.attention import rotate_and_store_rows
heads = kv_heads * group
for width, slots, starts in ((1, torch.arange(rows), length), (3, torch.tensor([2, 0, 3, 1]), torch.full((rows,), 5))):
    q, k, v = (torch.randn(rows, width, n * dim).to(torch.bfloat16) for n in (heads, kv_heads, kv_heads))
    angles = torch.rand(rows, width, dim) * 6
    cos, sin = angles.cos().to(torch.bfloat16), angles.sin().to(torch.bfloat16)
    keys3, values3 = keys.clone(), values.clone()
    rotated = rotate_and_store_rows(q, k, v, cos, sin, keys3, values3, slots, starts)
    want_q, want_k = apply_rope(q.view(rows, width, heads, dim).transpose(1, 2),
                                k.view(rows, width, kv_heads, dim).transpose(1, 2), cos, sin)
    assert rotated.shape == q.shape
    assert torch.allclose(rotated.view(rows, width, heads, dim).float(), want_q.transpose(1, 2).float(),
                          rtol=2 ** -6, atol=2 ** -6), "rotated q"
    for r in range(rows):
        at = slice(int(starts[r]), int(starts[r]) + width)
        target = int(slots[r])
        assert torch.allclose(keys3[target, :, at].float(), want_k[r].float(), rtol=2 ** -6, atol=2 ** -6), "key"
        assert torch.equal(values3[target, :, at], v[r].view(width, kv_heads, dim).transpose(0, 1)), "value"
        keys3[target, :, at], values3[target, :, at] = keys[target, :, at], values[target, :, at]
    assert torch.equal(keys3, keys) and torch.equal(values3, values), "only each token's own place is written"
print("ok")
"""


def run_in_interpreter(script: str) -> str:
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=INTERPRETER_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_exact_kernels_in_the_triton_interpreter() -> None:
    assert run_in_interpreter(SCRIPT).endswith("ok")


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_fused_matrix_vector_kernels_in_the_triton_interpreter() -> None:
    assert run_in_interpreter(GEMV_SCRIPT).endswith("ok")


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_vision_tower_with_kernels_and_padded_mlp_in_the_interpreter() -> None:
    assert run_in_interpreter(VISION_SCRIPT).startswith("ok")


def test_exact_kernels_only_for_bf16_on_cuda() -> None:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels

    assert not fast_kernels.available(torch.device("cpu"), torch.bfloat16)
    # A float16 model (pre-Ampere GPUs) must keep the eager operations: the kernels round to bf16.
    assert not fast_kernels.available(torch.device("cuda"), torch.float16)
    assert not fast_kernels.available(torch.device("cuda"), torch.float32)


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_fleet_decode_attention_in_the_triton_interpreter() -> None:
    assert run_in_interpreter(FLEET_ATTENTION_SCRIPT).endswith("ok")
