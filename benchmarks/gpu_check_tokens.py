"""Where do the fast path's greedy tokens part from plain ``generate``'s? A GPU diagnostic.

For one random full-size model and the desktop screenshot it compares, bit for bit:
plain generate against itself (is the reference deterministic?), the vision embeddings
(transformers' tower, ours eager, ours as a graph; Qwen3-VL's DeepStack features too), and the
logits of every step (plain ``output_logits`` against the fast path's last-step logits for 1..N
tokens; step 1 is the prefill's). With --profile it also prints the CUDA kernel time table of one
fast step.

    python3 benchmarks/gpu_check_tokens.py --size 7b --tokens 12 --profile
    python3 benchmarks/gpu_check_tokens.py --family qwen3 --size 8b --tokens 40
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gpu_models import (
    FAMILIES,
    PATCH,
    TIKTOKEN_PLACES,
    chat_text,
    qwen_processor,
    qwen_tokenizer,
    random_model,
    screenshot,
)


def main() -> int:
    import torch

    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions

    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("--family", choices=FAMILIES, default="qwen2.5")
    parser.add_argument("--size", default="", help="7b or 3b (qwen2.5), 2b, 4b, 8b or 32b (qwen3)")
    parser.add_argument("--tokens", type=int, default=12)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--cudnn-sdpa",
        action="store_true",
        help="turn cuDNN attention back on after the fast path turned it off (both paths use it)",
    )
    args = parser.parse_args()
    args.size = args.size or ("8b" if args.family == "qwen3" else "7b")
    from PIL import Image

    from qwen_gui_agent.tools.frames import smart_resize

    tokenizer = qwen_tokenizer(next(p for p in TIKTOKEN_PLACES if p.is_file()))
    model = random_model(args.size, family=args.family)
    factor = 2 * PATCH[args.family]
    processor = qwen_processor(tokenizer, 1280 * factor * factor, family=args.family)
    height, width = smart_resize(1080, 1920, factor=factor, max_pixels=1280 * factor * factor)
    frame = (width, height)
    image = screenshot(1920, 1080).resize(frame, Image.Resampling.BICUBIC)
    text = chat_text(frame)
    inputs = processor(text=[text], images=[image], return_tensors="pt").to("cuda")
    n = args.tokens
    fast = FastPath(model, processor)  # turns cuDNN attention off, process-wide
    torch.backends.cuda.enable_cudnn_sdp(args.cudnn_sdpa)

    def plain() -> tuple[list[int], list[torch.Tensor]]:
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                output_logits=True,
                return_dict_in_generate=True,
            )
        return out.sequences[0, inputs["input_ids"].shape[1] :].tolist(), [x[0].float() for x in out.logits]

    tokens_a, logits_a = plain()
    tokens_b, logits_b = plain()
    print(
        "plain deterministic:",
        tokens_a == tokens_b,
        all(torch.equal(x, y) for x, y in zip(logits_a, logits_b, strict=False)),
    )

    grid = tuple(tuple(int(v) for v in row) for row in inputs["image_grid_thw"].tolist())
    with torch.inference_mode():
        tower = model.model.visual(inputs["pixel_values"].to(torch.bfloat16), grid_thw=inputs["image_grid_thw"])
        reference = tower.pooler_output
        reference = torch.cat(reference) if isinstance(reference, (tuple, list)) else reference
        deepstack = getattr(tower, "deepstack_features", None) or []
        eager = fast.vision.forward(inputs["pixel_values"], grid)
        graphed = fast.vision(inputs["pixel_values"], grid)
        graphed = [t.clone() for t in (graphed.embeds, *graphed.deepstack)]
    print(
        "vision eager == transformers:",
        torch.equal(eager.embeds, reference),
        "max diff",
        (eager.embeds.float() - reference.float()).abs().max().item(),
    )
    if deepstack:
        print(
            "deepstack eager == transformers:",
            [torch.equal(a, b) for a, b in zip(eager.deepstack, deepstack, strict=False)],
        )
    print(
        "vision graph == eager:",
        all(torch.equal(a, b) for a, b in zip(graphed, (eager.embeds, *eager.deepstack), strict=False)),
    )
    options = GreedyOptions(eos_token_ids=(151645, 151643), min_new_tokens=n)
    equal_steps = 0
    for count in range(1, n + 1):
        result = fast.generate(inputs, count, options)
        logits = fast.last_logits()
        same = torch.equal(logits, logits_a[count - 1])
        diff = (logits - logits_a[count - 1]).abs().max().item()
        top2 = torch.topk(logits_a[count - 1], 2).values
        equal_steps += same
        print(
            f"step {count:2}: logits equal {same}  max diff {diff:.3g}  token {result.tokens[-1]} vs "
            f"{tokens_a[count - 1]}  plain top-2 margin {(top2[0] - top2[1]).item():.3g}"
        )
    print(
        f"{args.family} {args.size}: logits bit-identical at {equal_steps} of {n} steps; tokens identical: "
        f"{result.tokens == tokens_a}"
    )
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        fast.generate(inputs, 40, GreedyOptions(min_new_tokens=40))
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            fast.generate(inputs, 40, GreedyOptions(min_new_tokens=40))
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=30, max_name_column_width=60))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
