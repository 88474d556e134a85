"""How big and how slow is report.html? (A measurement, not a test.)

Takes a real screenshot of a Tk app on a 1920x1080 Xvfb screen with `agent screenshot`, writes a
run of N steps of it with RunWriter, and times `write_report` with each image setting:

    python3 benchmarks/report_size.py --steps 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from qwen_gui_agent.agent.records.run_files import ExecutedRecord, FrameRecord, GeometryRecord
from qwen_gui_agent.agent.report.page import ReportSettings, write_report
from tests.support.run_builders import add_step, new_writer
from tests.support.tk_app import TkApp
from tests.support.xvfb import start_xvfb


def capture(directory: Path) -> Path:
    shot = directory / "shot.png"
    with start_xvfb(1920, 1080) as server:
        env = server.env(dict(os.environ))
        app = TkApp(env, directory / "state.json", x=300, y=200)
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "from qwen_gui_agent.agent.cli import main; main()",
                    "screenshot",
                    "--device",
                    "desktop",
                    "-o",
                    str(shot),
                ],
                env=env,
                check=True,
                cwd=REPO,
            )
        finally:
            app.close()
    return shot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    from PIL import Image

    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        shot = Image.open(capture(directory)).convert("RGB")
        writer = new_writer(directory / "run")
        for index in range(1, args.steps + 1):
            add_step(
                writer,
                index,
                image=shot,
                geometry=GeometryRecord(width=1920, height=1080),
                frame=FrameRecord(width=1316, height=728),
                answer="Action: click(start_box='(300,200)')",
                actions=["click(start_box='(300,200)')"],
                executed=[
                    ExecutedRecord(action="click(start_box='(438,297)')", commands=["click x=438 y=297 button=left"])
                ],
            )
        writer.close()
        pngs = sum(path.stat().st_size for path in (directory / "run").glob("*.png"))
        print(f"{args.steps} steps of a 1920x1080 screenshot; step PNGs in the run: {pngs / 1024:.0f} KiB")
        for settings in (
            ReportSettings(),
            ReportSettings(image_format="jpeg"),
            ReportSettings(image_format="png"),
            ReportSettings(max_width=1920),
        ):
            started = time.perf_counter()
            path = write_report(directory / "run", directory / "report.html", settings)
            took = time.perf_counter() - started
            size = path.stat().st_size
            print(
                f"max_width={settings.max_width} format={settings.image_format}: {size / 1024:.0f} KiB "
                f"({size / args.steps / 1024:.1f} KiB/step) in {took * 1000:.0f} ms"
            )


if __name__ == "__main__":
    main()
