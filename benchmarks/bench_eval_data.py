"""How long does reading a large grounding data set take? (A measurement, not a test.)

Writes one ScreenSpot-style annotation file of N items (a pretty-printed JSON array, as the
published files are, all items on one small screenshot) and times ``load_grounding_set`` on it:
the reading, the line of each item, the image lookup. Issue 22 measured 55 s for 40,000 items
(each item's line was counted from the start of the file: quadratic).

    python3 benchmarks/bench_eval_data.py --items 40000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from PIL import Image

from qwen_gui_agent.agent.eval.grounding.data import load_grounding_set


def write_data(folder: Path, items: int) -> Path:
    Image.new("RGB", (1280, 800), "white").save(folder / "screen.png")
    entries = [
        {
            "img_filename": "screen.png",
            "bbox": [10 + i % 900, 20 + i % 700, 40, 20],
            "instruction": f"the button number {i}",
            "data_type": "text",
            "data_source": "windows",
        }
        for i in range(items)
    ]
    path = folder / "screenspot_desktop_v2.json"
    path.write_text(json.dumps(entries, indent=4), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = write_data(Path(folder), args.items)
        size = path.stat().st_size
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            loaded = load_grounding_set(path)
            times.append(time.perf_counter() - started)
        assert len(loaded.items) == args.items and not loaded.problems, loaded.problems[:3]
        last = loaded.items[-1].where
    print(
        f"{args.items:,} items ({size / 1e6:.1f} MB): best {min(times):.2f} s, median "
        f"{sorted(times)[len(times) // 2]:.2f} s over {args.repeat} reads; last item at {last.rsplit('/', 1)[-1]}"
    )


if __name__ == "__main__":
    main()
