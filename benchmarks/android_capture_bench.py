"""Android screenshot cost on this machine: transfer + decode, raw vs PNG.

Runs the driver against the loopback adb server (tests/support/adb_server.py)
holding a 1080x2400 screen, so it measures our side only: the adb socket
read and the decode. A real phone adds its own capture time, USB/Wi-Fi
transfer (raw is ~10 MB, PNG far less) and, for PNG, the phone's encoder.

    python3 benchmarks/android_capture_bench.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwen_gui_agent.devices.android.device import AndroidSettings, open_android
from qwen_gui_agent.devices.android.screen import decode_png, decode_raw
from tests.support.adb_server import AdbServer
from tests.support.adb_shell import VirtualPhone


def screen_like(width: int, height: int) -> Image.Image:
    """Flat blocks like an app screen (PNG compresses it as it would a real UI)."""
    blocks = np.random.default_rng(0).integers(0, 256, size=(height // 40, width // 40, 3), dtype=np.uint8)
    return Image.fromarray(np.repeat(np.repeat(blocks, 40, axis=0), 40, axis=1), "RGB")


def median_ms(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with AdbServer([VirtualPhone(size=(1080, 2400))]) as server:
        server.screen = screen_like(1080, 2400)
        raw, png = server.phone.run("screencap"), server.phone.run("screencap -p")
        print(f"screen 1080x2400: raw {len(raw) / 1e6:.1f} MB, PNG {len(png) / 1e3:.0f} kB")
        print(
            f"decode only: raw {median_ms(lambda: decode_raw(raw), args.repeat):.1f} ms, "
            f"PNG {median_ms(lambda: decode_png(png), args.repeat):.1f} ms"
        )
        for mode in ("raw", "png"):
            device = open_android(None, AndroidSettings(adb_port=server.port, screencap=mode))
            device.screenshot()  # warm up
            ms = median_ms(device.screenshot, args.repeat)
            print(f"screenshot() over loopback adb, {mode}: {ms:.1f} ms (includes the fake phone's encode)")


if __name__ == "__main__":
    main()
