"""The MiniWoB++ comparison of docs/eval.md: the reference policy through the agent's path vs through Selenium.

For each screen (device scale factor x page zoom) it runs the upper bound (``--policy selenium``)
and the reference policy through the agent in each dialect, every one an ordinary
``agent eval miniwob`` into its own folder (so a stopped matrix resumes where it was), then prints
the table: success through the agent and through Selenium, the gap, steps and time per step.

    python3 benchmarks/miniwob_matrix.py --out evals/miniwob-matrix --episodes 10 --parallel 3
    python3 benchmarks/miniwob_matrix.py --out evals/miniwob-matrix --table-only   # just the table
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGENT = [sys.executable, "-c", "from qwen_gui_agent.agent.cli import main; main()"]


def folder(out: Path, policy: str, dialect: str | None, zoom: str, scale: str) -> Path:
    return out / "-".join([policy, *([dialect] if dialect else []), f"z{zoom}", f"s{scale}"])


def run(out: Path, policy: str, dialect: str | None, zoom: str, scale: str, args: argparse.Namespace) -> None:
    command = [
        *AGENT,
        "eval",
        "miniwob",
        *args.tasks,
        "--policy",
        policy,
        "--episodes",
        str(args.episodes),
        "--zoom",
        zoom,
        "--scale",
        scale,
        "--parallel",
        str(args.parallel),
        "--settle",
        str(args.settle),
        "--out",
        str(folder(out, policy, dialect, zoom, scale)),
    ]
    if dialect:
        command += ["--dialect", dialect]
    print("+", " ".join(command[3:]), flush=True)
    subprocess.run(command, cwd=REPO, check=False)


def summary(path: Path) -> dict | None:
    results = path / "results.json"
    return json.loads(results.read_text(encoding="utf-8"))["summary"] if results.exists() else None


def table(out: Path, args: argparse.Namespace) -> str:
    head = (
        "| scale | zoom | dialect | episodes | through the agent | through Selenium | gap (points) | "
        "steps (agent / Selenium) | s/step (agent / Selenium) |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for scale in args.scales:
        for zoom in args.zooms:
            upper = summary(folder(out, "selenium", None, zoom, scale))
            for dialect in args.dialects:
                agent = summary(folder(out, "reference", dialect, zoom, scale))
                if agent is None or upper is None:
                    continue
                a, u = agent["overall"], upper["overall"]
                lines.append(
                    f"| {scale} | {zoom} | {dialect} | {a['episodes']} | {100 * a['success_rate']:.1f}% | "
                    f"{100 * u['success_rate']:.1f}% | {100 * (a['success_rate'] - u['success_rate']):+.1f} | "
                    f"{a['steps']:.2f} / {u['steps']:.2f} | "
                    f"{a['seconds_per_step']:.2f} / {u['seconds_per_step']:.2f} |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("evals/miniwob-matrix"))
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--settle", type=float, default=0.4)
    parser.add_argument("--scales", nargs="+", default=["1", "2"])
    parser.add_argument("--zooms", nargs="+", default=["3", "1.5"])
    parser.add_argument("--dialects", nargs="+", default=["qwen", "uitars", "qwen3"])
    parser.add_argument("--tasks", nargs="*", default=[], help="default: the reference policy's 32 tasks")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if not args.table_only:
        for scale in args.scales:
            for zoom in args.zooms:
                run(args.out, "selenium", None, zoom, scale, args)
                for dialect in args.dialects:
                    run(args.out, "reference", dialect, zoom, scale, args)
    print(table(args.out, args))


if __name__ == "__main__":
    main()
