"""Do the fast path's Triton kernels compute what eager PyTorch computes, bit for bit? A GPU check.

Each kernel of agent/backends/local/fastpath/kernels.py against the eager operations it replaces, on
many inputs: every bf16 value for the SiLU, wide random ranges, the hidden sizes of the 3B
and 7B models, and the vision tower's shapes. Also: flash attention over a strided view of
the static KV cache against the contiguous copy transformers' growing cache holds. The fleet's
many-row products (fast_gemv's ``*_many``) against the one-row kernels row by row, at the 7B's and
Qwen3-VL-8B's sizes (their differences from cuBLAS at 8 rows are printed as information: the fleet
need not equal cuBLAS). Prints the number of differing elements per check; exits 1 if any differs.

    python3 benchmarks/gpu_check_kernels.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def differing(a, b) -> int:
    """Elements whose bits differ (NaNs with equal bits count as equal)."""
    import torch

    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    bits = {torch.bfloat16: torch.int16, torch.float32: torch.int32}[a.dtype]
    return int((a.contiguous().view(bits) != b.contiguous().view(bits)).sum())


def check_silu_mul(report) -> None:
    import torch
    import torch.nn.functional as F

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels

    every = torch.arange(-(2**15), 2**15, dtype=torch.int32).to(torch.int16).view(torch.bfloat16).cuda()
    for name, up in (("ones", torch.ones_like(every)), ("random", torch.randn_like(every.float()).bfloat16())):
        report(
            f"silu*up, every bf16 gate, up {name}",
            differing(fast_kernels.silu_mul(every, up), F.silu(every) * up),
            every.numel(),
        )
    for scale in (0.5, 4.0, 30.0):
        gate = (torch.randn(1 << 24, device="cuda") * scale).bfloat16()
        up = torch.randn(1 << 24, device="cuda").bfloat16()
        report(
            f"silu*up, gate ~ N(0, {scale})",
            differing(fast_kernels.silu_mul(gate, up), F.silu(gate) * up),
            gate.numel(),
        )
    # The vision MLP's layout: 3,420-wide rows read from 3,424-wide (padded) products.
    gate = (torch.randn(6528, 3424, device="cuda") * 3).bfloat16()[:, :3420]
    up = torch.randn(6528, 3424, device="cuda").bfloat16()[:, :3420]
    report("silu*up, padded rows", differing(fast_kernels.silu_mul(gate, up), F.silu(gate) * up), gate.numel())


def check_norms(report) -> None:
    import torch
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VLRMSNorm

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels
    from qwen_gui_agent.agent.backends.local.fastpath import rmsnorm as fast_rmsnorm

    for width in (2048, 3584):  # 3B, 7B hidden sizes
        norm = Qwen2_5_VLRMSNorm(width, eps=1e-6).cuda().bfloat16()
        norm.weight.data.normal_(1.0, 0.3)
        sums = normed = plain = 0
        rows = 300
        for row in range(rows):
            scale = 10.0 ** (row % 5 - 2)
            residual = (torch.randn(1, 1, width, device="cuda") * scale).bfloat16()
            delta = (torch.randn(1, 1, width, device="cuda") * scale).bfloat16()
            total, out = fast_kernels.add_rms_norm(residual, delta, norm.weight, norm.variance_epsilon)
            eager_total = residual + delta
            sums += differing(total, eager_total)
            normed += differing(out, norm(eager_total))
            plain += differing(fast_kernels.rms_norm(residual, norm.weight, norm.variance_epsilon), norm(residual))
        report(f"residual add, width {width}", sums, rows * width)
        report(f"add + rms norm, width {width}", normed, rows * width)
        report(f"rms norm, width {width}", plain, rows * width)
        one_launch = fast_rmsnorm.equals_eager(norm, rows=500)  # the start-up check, on more rows
        report(f"one-launch add + rms norm (fast_rmsnorm), width {width}", int(not one_launch), 1)
    # The vision tower's norms: many rows at once.
    norm = Qwen2_5_VLRMSNorm(1280, eps=1e-6).cuda().bfloat16()
    norm.weight.data.normal_(1.0, 0.3)
    residual = (torch.randn(6528, 1280, device="cuda") * 4).bfloat16()
    delta = torch.randn(6528, 1280, device="cuda").bfloat16()
    total, out = fast_kernels.add_rms_norm(residual, delta, norm.weight, norm.variance_epsilon)
    wrong = differing(total, residual + delta) + differing(out, norm(residual + delta))
    report("add + rms norm, 6528 rows of 1280", wrong, 2 * out.numel())


def check_vision_rope(report) -> None:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels
    from qwen_gui_agent.agent.backends.local.fastpath.vision import _rope

    heads, dim = 16, 80
    for tokens in (2912, 6528, 15456):  # 1280*28*28 desktop and phone-ish, 16384*28*28 desktop
        qkv = torch.randn(tokens, 3 * heads * dim, device="cuda").bfloat16()
        angles = torch.rand(tokens, dim, device="cuda") * 100
        cos, sin = angles.cos(), angles.sin()
        q, k = fast_kernels.vision_rope(qkv, cos, sin, heads)
        eager_q, eager_k, _ = qkv.reshape(tokens, 3, heads, dim).permute(1, 0, 2, 3).unbind(0)
        c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
        wrong = differing(q, _rope(eager_q, c, s)) + differing(k, _rope(eager_k, c, s))
        report(f"vision rotary, {tokens} tokens", wrong, 2 * q.numel())


def check_gemv(report) -> None:
    import torch
    import torch.nn.functional as F

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    for name, hidden, inner, vocab in (("3b", 2048, 11008, 151936), ("7b", 3584, 18944, 152064)):
        gate = (torch.randn(inner, hidden, device="cuda") * 0.02).bfloat16()
        up = (torch.randn(inner, hidden, device="cuda") * 0.02).bfloat16()
        head = (torch.randn(vocab, hidden, device="cuda") * 0.02).bfloat16()
        wrong = {"gate/up/silu": 0, "head logits": 0}
        rows = 50
        for _ in range(rows):
            x = (torch.randn(1, 1, hidden, device="cuda") * 3).bfloat16()
            eager_mlp = F.silu(F.linear(x, gate)) * F.linear(x, up)
            wrong["gate/up/silu"] += differing(fast_gemv.gate_up_silu(x, gate, up), eager_mlp)
            eager_logits = F.linear(x, head)[:, -1, :].float().view(-1)
            wrong["head logits"] += differing(fast_gemv.head_logits(x[:, -1, :], head), eager_logits)
        sizes = {"gate/up/silu": inner, "head logits": vocab}
        for check, count in wrong.items():
            report(f"{check}, {name}", count, rows * sizes[check])
        check_qkv(report, name, hidden)


def check_qkv(report, name: str, hidden: int) -> None:
    """fast_gemv.plan_for on a random layer of this size, then its q/k/v kernel against cuBLAS."""
    import torch
    from transformers import Qwen2Config
    from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    heads, kv_heads, inner = (28, 4, 18944) if name == "7b" else (16, 2, 11008)
    config = Qwen2Config(
        hidden_size=hidden,
        intermediate_size=inner,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        hidden_act="silu",
    )
    layer = Qwen2DecoderLayer(config, 0).cuda().bfloat16()
    for param in layer.parameters():
        param.data.normal_(0.0, 0.02)
    head = torch.nn.Linear(hidden, 1024, bias=False).cuda().bfloat16()
    plan = fast_gemv.plan_for(layer, head)
    print(f"{name} plan: {plan}")
    if plan.qkv is None:
        report(f"q/k/v: no split count equals cuBLAS, {name}", 1, 1)
        return
    attn = layer.self_attn
    wrong = 0
    for _ in range(50):
        x = (torch.randn(1, 1, hidden, device="cuda") * 3).bfloat16()
        q, k, v = fast_gemv.qkv(x, attn, plan.qkv)
        wrong += differing(q, attn.q_proj(x)) + differing(k, attn.k_proj(x)) + differing(v, attn.v_proj(x))
    report(f"q/k/v in one launch, {name}", wrong, 50 * (heads + 2 * kv_heads) * 128)


def many_row_layer(family: str):
    """A random bf16 decoder layer and head at Qwen2.5-VL-7B's (biased q/k/v) or Qwen3-VL-8B's sizes."""
    import torch

    if family == "qwen3":
        from transformers import Qwen3VLTextConfig
        from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextDecoderLayer

        config = Qwen3VLTextConfig(
            hidden_size=4096,
            intermediate_size=12288,
            num_attention_heads=32,
            num_key_value_heads=8,
            head_dim=128,
            hidden_act="silu",
        )
        layer, vocab = Qwen3VLTextDecoderLayer(config, 0), 151936
    else:
        from transformers import Qwen2Config
        from transformers.models.qwen2.modeling_qwen2 import Qwen2DecoderLayer

        config = Qwen2Config(
            hidden_size=3584, intermediate_size=18944, num_attention_heads=28, num_key_value_heads=4, hidden_act="silu"
        )
        layer, vocab = Qwen2DecoderLayer(config, 0), 152064
    layer = layer.cuda().bfloat16()
    for param in layer.parameters():
        param.data.normal_(0.0, 0.02)
    head = torch.nn.Linear(config.hidden_size, vocab, bias=False).cuda().bfloat16()
    head.weight.data.normal_(0.0, 0.02)
    return layer, head


def check_gemv_many(report) -> None:
    """The fleet's products of 1 to 16 rows against the one-row kernels (K unsplit) for each row alone, and at
    other block shapes against the default ones."""
    import itertools

    import torch
    import torch.nn.functional as F
    from triton.runtime.errors import OutOfResources

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    for family, name in (("qwen2.5", "7b"), ("qwen3", "qwen3 8b")):
        layer, head = many_row_layer(family)
        attn, mlp = layer.self_attn, layer.mlp
        gate, up = mlp.gate_proj.weight, mlp.up_proj.weight
        assert fast_gemv.takes_many(layer, head)
        wrong = {"q/k/v": 0, "gate/up/silu": 0, "head logits": 0}
        sizes = {"q/k/v": 0, "gate/up/silu": 0, "head logits": 0}
        for count in (1, 3, 8, 16):
            for _ in range(4):
                x = (torch.randn(count, 1, gate.shape[1], device="cuda") * 3).bfloat16()
                q, k, v = fast_gemv.qkv_many(x, attn)
                mlp_out = fast_gemv.gate_up_silu_many(x, gate, up)
                logits = fast_gemv.head_logits_many(x[:, -1, :], head.weight)
                for m in range(count):
                    alone = fast_gemv.qkv(x[m : m + 1], attn, (1, 1))
                    wrong["q/k/v"] += sum(differing(a[m : m + 1], b) for a, b in zip((q, k, v), alone, strict=True))
                    wrong["gate/up/silu"] += differing(
                        mlp_out[m : m + 1], fast_gemv.gate_up_silu(x[m : m + 1], gate, up)
                    )
                    wrong["head logits"] += differing(logits[m], fast_gemv.head_logits(x[m], head.weight))
                sizes["q/k/v"] += q.numel() + k.numel() + v.numel()
                sizes["gate/up/silu"] += mlp_out.numel()
                sizes["head logits"] += logits.numel()
        for check, count in wrong.items():
            report(f"{check}, 1-16 rows = one row each, {name}", count, sizes[check])
        # Information only: cuBLAS's 8-row products round otherwise (other kernels, split K).
        x = (torch.randn(8, 1, gate.shape[1], device="cuda") * 3).bfloat16()
        q, k, v = fast_gemv.qkv_many(x, attn)
        apart = {
            "q": differing(q, attn.q_proj(x)),
            "k": differing(k, attn.k_proj(x)),
            "v": differing(v, attn.v_proj(x)),
            "gate/up/silu": differing(
                fast_gemv.gate_up_silu_many(x, gate, up), F.silu(mlp.gate_proj(x)) * mlp.up_proj(x)
            ),
            "head": differing(fast_gemv.head_logits_many(x[:, -1, :], head.weight), head(x)[:, -1, :].float()),
        }
        print(f"  (information) 8 rows, {name}, elements unlike cuBLAS: {apart}")
        # The block shapes are a speed choice only (each output's K order is fixed): every other shape the tuner
        # tries that fits gives the defaults' bits.
        defaults = (*fast_gemv.qkv_many(x, attn), fast_gemv.gate_up_silu_many(x, gate, up))
        logits = fast_gemv.head_logits_many(x[:, -1, :], head.weight)
        shape_wrong = shape_total = 0
        for config in itertools.product((16, 32, 64), (128, 256), (4,), (3,)):
            try:
                shaped = (*fast_gemv.qkv_many(x, attn, config), fast_gemv.gate_up_silu_many(x, gate, up, config))
                shaped_logits = fast_gemv.head_logits_many(x[:, -1, :], head.weight, config)
            except OutOfResources:  # a shape this GPU cannot hold (the tuner skips it too)
                continue
            shape_wrong += sum(differing(a, b) for a, b in zip(shaped, defaults, strict=True))
            shape_wrong += differing(shaped_logits, logits)
            shape_total += sum(t.numel() for t in defaults) + logits.numel()
        report(f"many-row, other block shapes = defaults, {name}", shape_wrong, shape_total)
        del layer, head
        torch.cuda.empty_cache()


def check_strided_attention(report) -> None:
    import torch
    import torch.nn.functional as F

    for heads, kv_heads in ((16, 2), (28, 4), (32, 8)):  # 3B, 7B, Qwen3-VL-8B
        capacity = 4096
        keys = torch.randn(1, kv_heads, capacity, 128, device="cuda").bfloat16()
        values = torch.randn(1, kv_heads, capacity, 128, device="cuda").bfloat16()
        wrong = total = 0
        for length in (1, 17, 255, 256, 257, 1633, 1700, 2047, 2048, 3001, 4096):
            q = torch.randn(1, heads, 1, 128, device="cuda").bfloat16()
            view_k, view_v = keys[:, :, :length], values[:, :, :length]

            def attend(k, v, q=q):
                return F.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=0.0, scale=128**-0.5, is_causal=False, enable_gqa=True
                )

            out = attend(view_k, view_v)
            wrong += differing(out, attend(view_k.contiguous(), view_v.contiguous()))
            total += out.numel()
        report(f"attention on the cache in place, {heads}/{kv_heads} heads", wrong, total)


def check_qwen3_and_prefill(report) -> None:
    """What the engine's model added: Qwen3-VL's per-head q/k norms (decode row, prefill, fleet rows), the exact
    prefill's three-launch add + norm over many rows, and the Qwen3-VL vision rotary (72-wide heads)."""
    import torch
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextRMSNorm

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels
    from qwen_gui_agent.agent.backends.local.fastpath.vision import _rope

    norm = Qwen3VLTextRMSNorm(128, eps=1e-6).cuda().bfloat16()
    norm.weight.data.normal_(1.0, 0.3)
    for shape in ((1, 1, 32, 128), (1, 1, 8, 128), (1, 1700, 32, 128), (1, 1700, 8, 128), (8, 1, 32, 128)):
        wrong = total = 0
        for scale in (0.01, 1.0, 30.0):
            x = (torch.randn(shape, device="cuda") * scale).bfloat16()
            wrong += differing(fast_kernels.rms_norm(x, norm.weight, norm.variance_epsilon), norm(x))
            total += x.numel()
        report(f"q/k head norm {shape}", wrong, total)
    for width, rows in ((4096, 1700), (3584, 1700), (2048, 6600)):
        norm = Qwen3VLTextRMSNorm(width, eps=1e-6).cuda().bfloat16()
        norm.weight.data.normal_(1.0, 0.3)
        residual = (torch.randn(1, rows, width, device="cuda") * 4).bfloat16()
        delta = torch.randn(1, rows, width, device="cuda").bfloat16()
        total, out = fast_kernels.add_rms_norm(residual, delta, norm.weight, norm.variance_epsilon)
        wrong = differing(total, residual + delta) + differing(out, norm(residual + delta))
        wrong += differing(fast_kernels.rms_norm(residual, norm.weight, norm.variance_epsilon), norm(residual))
        report(f"prefill add + rms norm, {rows} rows of {width}", wrong, 3 * out.numel())
        gate = (torch.randn(1, rows, 3 * width, device="cuda") * 3).bfloat16()
        up = torch.randn(1, rows, 3 * width, device="cuda").bfloat16()
        report(
            f"prefill silu*up, {rows} rows of {3 * width}",
            differing(fast_kernels.silu_mul(gate, up), torch.nn.functional.silu(gate) * up),
            gate.numel(),
        )
    heads, dim = 16, 72
    for tokens in (4888, 6 * 4888):
        qkv = torch.randn(tokens, 3 * heads * dim, device="cuda").bfloat16()
        angles = torch.rand(tokens, dim, device="cuda") * 100
        cos, sin = angles.cos(), angles.sin()
        q, k = fast_kernels.vision_rope(qkv, cos, sin, heads)
        eager_q, eager_k, _ = qkv.reshape(tokens, 3, heads, dim).permute(1, 0, 2, 3).unbind(0)
        c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
        report(
            f"qwen3 vision rotary, {tokens} tokens",
            differing(q, _rope(eager_q, c, s)) + differing(k, _rope(eager_k, c, s)),
            2 * q.numel(),
        )


def check_qwen3_gemv(report) -> None:
    """fast_gemv.plan_for on a Qwen3-VL-8B-shaped layer and head (no q/k/v biases: q/k/v stay cuBLAS)."""
    import torch
    from transformers import Qwen3VLTextConfig
    from transformers.models.qwen3_vl.modeling_qwen3_vl import Qwen3VLTextDecoderLayer

    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    config = Qwen3VLTextConfig(
        hidden_size=4096,
        intermediate_size=12288,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        hidden_act="silu",
    )
    layer = Qwen3VLTextDecoderLayer(config, 0).cuda().bfloat16()
    for param in layer.parameters():
        param.data.normal_(0.0, 0.02)
    head = torch.nn.Linear(4096, 151936, bias=False).cuda().bfloat16()
    head.weight.data.normal_(0.0, 0.02)
    plan = fast_gemv.plan_for(layer, head)
    print(f"qwen3 8b plan: {plan}")
    report("qwen3 8b gate/up/silu fused equal to cuBLAS", int(not plan.gate_up), 1)


def main() -> int:
    import torch

    torch.manual_seed(0)
    torch.backends.cuda.enable_cudnn_sdp(False)  # as FastPath sets it
    failures = []

    def report(name: str, wrong: int, total: int) -> None:
        print(f"{name:48s} {wrong:>10d} of {total:>10d} differ")
        if wrong:
            failures.append(name)

    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    with torch.inference_mode():
        check_silu_mul(report)
        check_norms(report)
        check_vision_rope(report)
        check_gemv(report)
        check_gemv_many(report)
        check_strided_attention(report)
        check_qwen3_and_prefill(report)
        check_qwen3_gemv(report)
    print("all equal bit for bit" if not failures else f"DIFFERENT: {', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
