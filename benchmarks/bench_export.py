"""How long does `agent export` take for a long run? (A measurement, not a test.)

Records a real run of N steps through the agent loop (uitars dialect, 5 screenshots per prompt,
scripted answers) on an in-memory 1920x1080 screen that starts from a real screenshot of a Tk app
on Xvfb (each click draws a mark, so every step's screen differs), then times the command a user
types:

    python3 benchmarks/bench_export.py --steps 50
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.report_size import capture  # noqa: E402
from qwen_gui_agent.agent.backends.scripted import ScriptedBackend  # noqa: E402
from qwen_gui_agent.agent.runtime.runner import RunParts, execute_run  # noqa: E402
from qwen_gui_agent.agent.runtime.secrets import Secrets  # noqa: E402
from qwen_gui_agent.agent.runtime.session import LoopSettings  # noqa: E402
from qwen_gui_agent.tasks.schema import Task  # noqa: E402
from qwen_gui_agent.tools.dialects import get_dialect  # noqa: E402
from tests.support.doubles import CollectedEvents, MemoryDevice  # noqa: E402


def record(directory: Path, steps: int) -> Path:
    from PIL import Image

    device = MemoryDevice(1920, 1080)
    device.screen = Image.open(capture(directory)).convert("RGB")
    answers = [
        f"Thought: step {n}.\nAction: click(start_box='({40 + 20 * n % 1200},{60 + 13 * n % 640})')"
        for n in range(1, steps)
    ] + ["Thought: done.\nAction: finished(content='done')"]
    parts = RunParts(
        task=Task.from_goal("click through the form"),
        device=device,
        backend=ScriptedBackend(answers),
        dialect=get_dialect("uitars"),
        settings=LoopSettings(settle_s=0.0, max_steps=steps, stuck_after=0, max_pixels=1280 * 28 * 28),
        events=CollectedEvents(),
        out_dir=directory / "runs",
        secrets=Secrets(),
        write_report=False,
    )
    result = execute_run(parts)
    assert result.status == "success", result.message
    return result.run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        run = record(directory, args.steps)
        command = [
            sys.executable,
            "-c",
            "from qwen_gui_agent.agent.cli import main; main()",
            "export",
            str(run),
            "-o",
            str(directory / "data"),
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=REPO)
        elapsed = time.perf_counter() - started
        counts = json.loads((directory / "data" / "manifest.json").read_text())["rows"]
        rows = counts["action"] + counts["grounding"]  # train.jsonl and grounding.jsonl
        size = sum(path.stat().st_size for path in (directory / "data").rglob("*") if path.is_file())
        print(
            f"agent export of a {args.steps}-step run: {elapsed:.2f} s wall (process start included), "
            f"{rows} rows, {size / 1e6:.1f} MB written"
        )


if __name__ == "__main__":
    main()
