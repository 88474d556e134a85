"""Screen capture cost: our mss -> PIL path against mss + PNG encode, on Xvfb at 1920x1080 and 3840x2160.

    python3 benchmarks/capture_bench.py [--repeat 50] [--sizes 1920x1080,3840x2160]

For each size it starts Xvfb, shows a desktop-like picture full screen (so the
PNG encoder has real work, as on a real desktop), and times N captures:

- ``ours``: DesktopDevice.screenshot() (mss grab of the monitor + BGRA buffer -> RGB PIL image);
- ``png``: mss grab + mss.tools.to_png to bytes + PIL decode (the path many agents take).

Numbers are wall time per capture in milliseconds (mean, p50, p95). Not a test.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.xvfb import XvfbServer, start_xvfb

SHOW_PICTURE = """
import sys, tkinter as tk
root = tk.Tk(); root.overrideredirect(True); root.geometry("+0+0")
picture = tk.PhotoImage(file=sys.argv[1])
tk.Label(root, image=picture, borderwidth=0).pack()
root.after(300, lambda: print("shown", flush=True))
root.mainloop()
"""


def desktop_like_picture(width: int, height: int, seed: int = 7) -> Image.Image:
    """Windows, text lines and a photo-ish gradient: compresses like a real screenshot, not like a blank one."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (32, 64, 96))
    draw = ImageDraw.Draw(image)
    for _ in range(width * height // 60000):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randrange(200, max(201, width // 3)), rng.randrange(120, max(121, height // 3))
        draw.rectangle((x, y, x + w, y + h), fill=tuple(rng.randrange(180, 256) for _ in range(3)), outline=(0, 0, 0))
        for line in range(y + 30, y + h - 10, 18):
            draw.text((x + 10, line), "".join(rng.choice("abcdefghij klmnop") for _ in range(w // 8)), fill=(0, 0, 0))
    gradient = Image.linear_gradient("L").resize((width // 4, height // 4)).convert("RGB")
    image.paste(gradient, (width - width // 4 - 20, 20))
    return image


def summarize(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"mean {statistics.fmean(samples):7.2f}  p50 {statistics.median(samples):7.2f}  p95 {p95:7.2f}"


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm up: first grab allocates the shared-memory segment
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bench_size(server: XvfbServer, repeat: int) -> dict[str, list[float]]:
    import mss.tools

    from qwen_gui_agent.devices.desktop.capture import open_mss
    from qwen_gui_agent.devices.desktop.device import open_desktop

    os.environ.update(server.env({}))  # mss connects to $DISPLAY when opened, so one process can do both sizes
    with tempfile.TemporaryDirectory() as folder:
        picture = Path(folder) / "desktop.png"
        desktop_like_picture(server.width, server.height).save(picture)
        viewer = subprocess.Popen(
            [sys.executable, "-c", SHOW_PICTURE, str(picture)], env=server.env(), stdout=subprocess.PIPE, text=True
        )
        try:
            assert viewer.stdout is not None and viewer.stdout.readline().strip() == "shown"
            with open_desktop() as device:
                ours = timed(device.screenshot, repeat)
            sct = open_mss()
            monitor = sct.monitors[1]

            def through_png() -> Image.Image:
                shot = sct.grab(monitor)
                data = mss.tools.to_png(shot.rgb, shot.size)
                return Image.open(io.BytesIO(data)).convert("RGB")

            png = timed(through_png, repeat)
            sct.close()
        finally:
            viewer.terminate()
            viewer.wait(timeout=5)
    return {"ours (mss -> PIL)": ours, "mss + PNG encode/decode": png}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--sizes", default="1920x1080,3840x2160")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.repeat} captures per row, ms per capture")
    for size in args.sizes.split(","):
        width, height = (int(part) for part in size.split("x"))
        with start_xvfb(width, height) as server:
            for name, samples in bench_size(server, args.repeat).items():
                print(f"{size:>10}  {name:<26} {summarize(samples)}")


if __name__ == "__main__":
    main()
