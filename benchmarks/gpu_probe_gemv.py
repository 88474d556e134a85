"""Can a Triton matrix-vector product equal cuBLAS's bit for bit? A GPU probe for the decode step.

The vision probe (gpu_probe_padding.py) found an sm80 and an sm90 cuBLAS kernel giving the
same bits for the same product: both run the tensor cores' 16-deep steps in K order into one
float32 accumulator. If that holds in general, a Triton kernel doing the same (tl.dot over K
in order, no split) equals every cuBLAS kernel that does not split K, and the decode step's
products could be fused with the element-wise work around them. This probe compares such a
kernel with ``F.linear`` for the 7B decode shapes and times both.

    python3 benchmarks/gpu_probe_gemv.py
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_check_kernels import differing
from benchmarks.gpu_probe_padding import timed_ms


def kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def gemv(x_ptr, w_ptr, b_ptr, out_ptr, N, K, HAS_BIAS: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
        n = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
        copies = tl.arange(0, 16)
        acc = tl.zeros([BLOCK_N, 16], dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            k = k0 + tl.arange(0, BLOCK_K)
            w = tl.load(w_ptr + n[:, None] * K + k[None, :], mask=(n[:, None] < N) & (k[None, :] < K), other=0.0)
            x = tl.load(x_ptr + k[:, None] + copies[None, :] * 0, mask=k[:, None] < K, other=0.0)
            acc = tl.dot(w, x, acc)
        value = tl.max(acc, axis=1)  # the 16 columns are equal
        if HAS_BIAS:
            value = value + tl.load(b_ptr + n, mask=n < N).to(tl.float32)
        tl.store(out_ptr + n, value.to(tl.bfloat16), mask=n < N)

    return gemv


def graph_us(work, repeats: int = 50) -> float:
    """Microseconds per call of ``work`` replayed inside a CUDA graph (no launch overhead)."""
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.decode import warm_up_on_side_stream

    warm_up_on_side_stream(work)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(repeats):
            work()
    return timed_ms(graph.replay, 5) * 1000 / repeats


def time_fused() -> None:
    """The fused decode kernels (agent/backends/local/fastpath/gemv.py) per configuration against what they replace."""
    configs = [
        (32, 128, 4, 4),
        (64, 128, 4, 3),
        (64, 64, 4, 4),
        (128, 64, 4, 4),
        (32, 256, 4, 3),
        (16, 256, 4, 4),
        (64, 256, 8, 3),
    ]
    for name in ("3b", "7b"):
        x, weights = decode_shapes(name)
        for kernel in ("gate/up/silu", "head", "q/k/v"):
            before = graph_us(functools.partial(eager_case, kernel, x, weights))
            cells = [
                f"{config}: {graph_us(functools.partial(fused_case, kernel, x, weights, config)):.1f}"
                for config in configs
            ]
            print(f"{name} {kernel:13s} eager+cuBLAS {before:.1f} us | " + " | ".join(cells))


def decode_shapes(name: str):
    """A random decode row and random weights of the 3B's or 7B's decode products (fused_case's inputs)."""
    import torch

    hidden, inner, vocab, kv, splits = {
        "7b": (3584, 18944, 152064, 512, (1, 2)),  # splits: gpu_probe_splitk
        "3b": (2048, 11008, 151936, 256, (1, 1)),
    }[name]
    x = torch.randn(1, 1, hidden, device="cuda").bfloat16()
    weights = {
        "gate": (torch.randn(inner, hidden, device="cuda") * 0.02).bfloat16(),
        "up": (torch.randn(inner, hidden, device="cuda") * 0.02).bfloat16(),
        "head": (torch.randn(vocab, hidden, device="cuda") * 0.02).bfloat16(),
        "attn": SimpleNamespace(
            q_proj=torch.nn.Linear(hidden, hidden).cuda().bfloat16(),
            k_proj=torch.nn.Linear(hidden, kv).cuda().bfloat16(),
            v_proj=torch.nn.Linear(hidden, kv).cuda().bfloat16(),
        ),
        "splits": splits,
    }
    return x, weights


def eager_case(kernel: str, x, weights):
    import torch.nn.functional as F

    from qwen_gui_agent.agent.backends.local.fastpath import kernels as fast_kernels

    if kernel == "head":
        return F.linear(x, weights["head"])[:, -1, :].float()
    if kernel == "q/k/v":
        attn = weights["attn"]
        return attn.q_proj(x), attn.k_proj(x), attn.v_proj(x)
    return fast_kernels.silu_mul(F.linear(x, weights["gate"]), F.linear(x, weights["up"]))


def fused_case(kernel: str, x, weights, config):
    from qwen_gui_agent.agent.backends.local.fastpath import gemv as fast_gemv

    if kernel == "head":
        return fast_gemv.head_logits(x[:, -1, :], weights["head"], config)
    if kernel == "q/k/v":
        return fast_gemv.qkv(x, weights["attn"], weights["splits"], config)
    return fast_gemv.gate_up_silu(x, weights["gate"], weights["up"], config)


def main() -> int:
    import torch
    import torch.nn.functional as F
    import triton

    torch.manual_seed(0)
    gemv = kernel()
    print(f"device {torch.cuda.get_device_name()}  torch {torch.__version__}")
    shapes = {
        "gate/up": (18944, 3584, False),
        "q": (3584, 3584, True),
        "o": (3584, 3584, False),
        "k/v": (512, 3584, True),
        "down": (3584, 18944, False),
        "head": (152064, 3584, False),
        "3b gate/up": (11008, 2048, False),
        "3b q": (2048, 2048, True),
    }
    with torch.inference_mode():
        for name, (n, k, bias) in shapes.items():
            w = (torch.randn(n, k, device="cuda") * 0.02).bfloat16()
            b = (torch.randn(n, device="cuda") * 0.02).bfloat16() if bias else None
            x = torch.randn(1, 1, k, device="cuda").bfloat16()
            reference = F.linear(x, w, b).view(-1)
            cublas_ms = timed_ms(functools.partial(F.linear, x, w, b), 50)
            results = []
            for block_n, block_k, warps, stages in (
                (64, 64, 4, 4),
                (32, 128, 4, 4),
                (64, 128, 4, 3),
                (128, 64, 4, 4),
                (32, 64, 2, 6),
                (16, 256, 4, 3),
            ):
                out = torch.empty(n, device="cuda", dtype=torch.bfloat16)
                run = functools.partial(
                    gemv[(triton.cdiv(n, block_n),)],
                    x,
                    w,
                    b if b is not None else w,
                    out,
                    n,
                    k,
                    HAS_BIAS=bias,
                    BLOCK_N=block_n,
                    BLOCK_K=block_k,
                    num_warps=warps,
                    num_stages=stages,
                )
                run()
                wrong = differing(out, reference)
                ms = timed_ms(run, 50)
                results.append(f"{block_n}x{block_k}/{warps}w{stages}s: {wrong} differ, {ms * 1000:.1f} us")
            gbps = n * k * 2 / (cublas_ms / 1000) / 1e12
            print(f"{name:11s} cuBLAS {cublas_ms * 1000:.1f} us ({gbps:.2f} TB/s) | " + " | ".join(results))
        time_fused()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
