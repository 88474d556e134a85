"""The fleet's many-row fused products (fastpath/gemv.py ``*_many``, gemv_many_triton.py) in Triton's interpreter.

Each row of a many-row product must be the one-row kernel's result for that row alone: the
interpreter computes both with the same float32 dot per column, so they must be equal bit for bit
here too. Against F.linear they are within a bf16 step (the interpreter truncates float32 -> bf16
where the GPU rounds). Bit-identity with the one-row kernels on the GPU: benchmarks/gpu_check_kernels.py.
"""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

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


# The engine's model in the ``rows`` style: a for_rows copy sends the products through the many-row kernels.
MODEL_SCRIPT = r"""
from tests.support.triton_interpreter import patch

patch()
import torch
import torch.nn.functional as F
from transformers import Qwen2Config
from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer, Qwen2RMSNorm
from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv
from qwen_gui_agent.agent.backends.local.fastpath.model import TextModel

torch.manual_seed(0)
hidden, inner, vocab = 128, 96, 80
layer = Qwen2DecoderLayer(Qwen2Config(hidden_size=hidden, intermediate_size=inner, num_attention_heads=4,
                                      num_key_value_heads=2, hidden_act="silu"), 0).to(torch.bfloat16)
head = torch.nn.Linear(hidden, vocab, bias=False).to(torch.bfloat16)
norm = Qwen2RMSNorm(hidden).to(torch.bfloat16)
with torch.no_grad():
    for param in [*layer.parameters(), head.weight]:
        param.normal_(0.0, 0.05)
text = TextModel(embed=None, layers=[layer], norm=norm, rotary=None, head=head, kv_heads=2, heads=4, head_dim=32,
                 kernels=True, silu=True)
fleet = text.for_rows(3)
assert fleet.many_products and not text.many_products
attn, mlp = layer.self_attn, layer.mlp
with torch.inference_mode():
    x = torch.randn(3, 1, hidden).to(torch.bfloat16)
    q, k, v = fleet.project(attn, x, "rows")
    for got, want in zip((q, k, v), fast_gemv.qkv_many(x, attn)):
        assert torch.equal(got, want.view(3, 1, -1, 32)), "q/k/v through qkv_many"
    assert not torch.equal(q.reshape(3, 1, -1), attn.q_proj(x)), "(the interpreter's truncation tells them apart)"
    assert torch.equal(fleet.mlp(mlp, x, "rows"), mlp.down_proj(fast_gemv.gate_up_silu_many(x, mlp.gate_proj.weight,
                                                                                           mlp.up_proj.weight)))
    logits = fleet.last_logits(x, None, "rows")
    _, normed = fleet.add_norm(norm, x, None, "rows")
    assert logits.shape == (3, vocab) and torch.equal(logits, fast_gemv.head_logits_many(normed[:, -1, :], head.weight))
    # The other styles and a many-row tensor (a join's) keep their products: cuBLAS's here.
    one = x[:1]
    assert torch.equal(fleet.project(attn, one, "exact")[0].reshape(1, 1, -1), attn.q_proj(one)), "exact"
    assert torch.equal(fleet.project(attn, one, "row")[0].reshape(1, 1, -1), attn.q_proj(one)), "row"
    wide = torch.randn(2, 9, hidden).to(torch.bfloat16)  # 18 tokens
    assert torch.equal(fleet.project(attn, wide, "rows")[0].reshape(2, 9, -1), attn.q_proj(wide)), "18 rows"
    assert torch.equal(text.project(attn, x, "rows")[0].reshape(3, 1, -1), attn.q_proj(x)), "the model itself"
    # Other block shapes reach the kernels (the interpreter's per-tile sums may round differently per shape).
    small = (16, 32, 1, 1)
    tuned = text.for_rows(3, configs=fast_gemv.ManyConfigs(qkv=small, gate_up=small, head=small))
    assert torch.equal(tuned.project(attn, x, "rows")[0].reshape(3, 1, -1), fast_gemv.qkv_many(x, attn, small)[0])
    assert torch.equal(tuned.mlp(mlp, x, "rows"),
                       mlp.down_proj(fast_gemv.gate_up_silu_many(x, mlp.gate_proj.weight, mlp.up_proj.weight, small)))
    assert torch.equal(tuned.last_logits(x, None, "rows"), fast_gemv.head_logits_many(normed[:, -1, :], head.weight, small))
print("ok")
"""


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_many_row_products_equal_the_one_row_kernels_per_row() -> None:
    assert run_in_interpreter(KERNELS_SCRIPT).endswith("ok")


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_the_fleet_model_copy_runs_its_products_through_the_many_row_kernels() -> None:
    assert run_in_interpreter(MODEL_SCRIPT).endswith("ok")


def _projection(rows: int, columns: int, bias: bool) -> SimpleNamespace:
    return SimpleNamespace(weight=torch.zeros(rows, columns), bias=torch.zeros(rows) if bias else None)


def _text(kernels: bool = True, silu: bool = True, qkv_bias: tuple[bool, bool, bool] = (True,) * 3, **others: bool):
    from qwen_gui_agent.agent.backends.local.fastpath.model import TextModel

    q, k, v = (_projection(8, 8, b) for b in qkv_bias)
    mlp = SimpleNamespace(gate_proj=_projection(8, 8, others.get("gate_bias", False)), up_proj=_projection(8, 8, False))
    layer = SimpleNamespace(self_attn=SimpleNamespace(q_proj=q, k_proj=k, v_proj=v), mlp=mlp)
    head = _projection(8, 8, others.get("head_bias", False))
    return TextModel(
        embed=None,
        layers=[layer],
        norm=None,
        rotary=None,
        head=head,
        kv_heads=1,
        heads=1,
        head_dim=8,
        kernels=kernels,
        silu=silu,
    )


def test_the_many_row_products_are_chosen_once_where_they_apply() -> None:
    assert _text().for_rows(8).many_products
    assert _text().for_rows(16).many_products
    assert _text(qkv_bias=(False, False, False)).for_rows(1).many_products  # Qwen3-VL: no biases
    assert not _text().for_rows(17).many_products  # more rows than tl.dot's 16 columns
    assert not _text().for_rows(8, fused=False).many_products  # the switch
    assert not _text(kernels=False).for_rows(8).many_products  # CPU, no Triton, not bf16
    assert not _text(silu=False).for_rows(8).many_products
    assert not _text(qkv_bias=(True, True, False)).for_rows(8).many_products
    assert not _text(gate_bias=True).for_rows(8).many_products
    assert not _text(head_bias=True).for_rows(8).many_products


def test_the_fleet_engine_passes_its_switch_to_the_decode_step() -> None:
    from qwen_gui_agent.agent.backends.local.fastpath.gemv import ManyConfigs
    from qwen_gui_agent.agent.backends.local.fastpath.greedy import GreedyOptions
    from qwen_gui_agent.agent.backends.local.fleet.engine import FleetEngine

    text = _text()
    fast = SimpleNamespace(text=text, device=torch.device("cpu"), dtype=torch.bfloat16, vocab=8, config=None)

    def engine(**settings: int | bool) -> FleetEngine:
        return FleetEngine(fast, GreedyOptions(), capacity=16, **settings)  # type: ignore[arg-type]

    assert engine().runner.text.many_products  # on by default where it applies (8 slots)
    assert not engine(fused_products=False).runner.text.many_products
    assert not engine(slots=17).runner.text.many_products
    assert not text.many_products and engine().joiner.text is text  # the joins keep the model's own products
    tuned = ManyConfigs(qkv=(32, 64, 4, 3))
    assert engine().runner.text.many_configs == ManyConfigs()
    assert engine(many_configs=tuned).runner.text.many_configs == tuned  # type: ignore[arg-type]
    assert engine(fused_products=False, many_configs=tuned).runner.text.many_configs is None  # type: ignore[arg-type]


def test_block_shapes_are_read_from_the_tuners_json_and_checked() -> None:
    from qwen_gui_agent.agent.backends.local.fastpath.gemv import ManyConfigs

    shapes = ManyConfigs.from_mapping({"qkv": [32, 256, 8, 4], "head": (16, 128, 4, 3)})
    assert shapes == ManyConfigs(qkv=(32, 256, 8, 4), gate_up=ManyConfigs().gate_up, head=(16, 128, 4, 3))
    for wrong, says in (
        ({"qkvs": [32, 256, 8, 4]}, "unknown"),
        ({"qkv": [32, 256, 8]}, "four positive integers"),
        ({"qkv": [32, 256, 0, 4]}, "four positive integers"),
        ({"qkv": [32.0, 256, 8, 4]}, "four positive integers"),
        ({"qkv": [32, 256, True, 4]}, "four positive integers"),
        ({"gate_up": [48, 256, 8, 4]}, "powers of two"),
        ({"head": [8, 256, 8, 4]}, "powers of two"),
    ):
        with pytest.raises(ValueError, match=says):
            ManyConfigs.from_mapping(wrong)
