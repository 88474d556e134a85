"""Where does the fast path's time to first token go? CUDA kernel tables of its vision tower and prefill.

Builds one random full-size model, runs a fast step to warm up, then profiles the vision
tower (run eagerly, so each kernel shows) and the language prefill separately.

    python3 benchmarks/gpu_profile_phases.py --size 7b
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_local import frame_for
from benchmarks.gpu_models import TIKTOKEN_PLACES, chat_text, qwen_processor, qwen_tokenizer, random_model


def main() -> int:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from qwen_gui_agent.agent.backends.local.fastpath.engine import FastPath, GreedyOptions
    from qwen_gui_agent.agent.backends.local.fastpath.inputs import rope_positions

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="7b")
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    tokenizer = qwen_tokenizer(next(p for p in TIKTOKEN_PLACES if p.is_file()))
    model = random_model(args.size)
    processor = qwen_processor(tokenizer, 1280 * 28 * 28)
    image, frame = frame_for("desktop", 1280 * 28 * 28)
    fast = FastPath(model, processor)
    inputs = fast.prepare(chat_text(frame), [image])
    fast.generate(inputs, 8, GreedyOptions(min_new_tokens=8))
    grids = [tuple(int(v) for v in row) for row in inputs["image_grid_thw"].tolist()]
    ids = inputs["input_ids"]
    positions, _ = rope_positions(
        ids[0].tolist(), model.config.image_token_id, grids, model.config.vision_config.spatial_merge_size
    )

    def phase(name: str, work) -> None:
        with torch.inference_mode():
            work()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                work()
                torch.cuda.synchronize()
        print(f"== {name}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows, max_name_column_width=70))

    phase("vision (eager)", lambda: fast.vision.forward(inputs["pixel_values"], tuple(grids)))
    from qwen_gui_agent.agent.backends.local.fastpath.prefill import image_positions, prefill

    embeds, deepstack = fast._embed(inputs, ids, grids)
    state = next(reversed(fast._graphs.values())).state  # the static cache the step above used
    deep = image_positions(ids, model.config.image_token_id, deepstack)
    phase("prefill", lambda: prefill(fast.text, embeds, positions.to(fast.device), state.keys, state.values, deep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
