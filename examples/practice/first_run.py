"""The first run, in one command: the agent signs up for a newsletter in a practice app, then checks its record.

    python3 examples/practice/first_run.py            # on a virtual screen (Xvfb): your mouse stays yours
    python3 examples/practice/first_run.py --here     # on this desktop's screen: watch it (it moves the mouse)

No GPU, no model server, no download: the "model" is scripted (examples/practice/answers.yaml), so the
run shows the loop itself: screenshot, answer, parse, map, act, record. It runs
``agent run examples/practice/signup.yaml``, then ``agent replay RUN --check`` on the recorded run,
and says where the run's report.html is. Without ``--here`` it starts its own X display with Xvfb
(Debian/Ubuntu: ``apt-get install xvfb``) and stops it at the end, closing the app with it.
Exit status: the run's, then the replay's (0 when both succeeded).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TASK = "examples/practice/signup.yaml"
AGENT = (sys.executable, "-c", "from qwen_gui_agent.agent.cli import main; main()")  # this interpreter's agent
SCREEN = "1280x800x24"
FIRST_DISPLAY = 99
X_SOCKETS = Path("/tmp/.X11-unix")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--here", action="store_true", help="run on this desktop's screen ($DISPLAY), not on Xvfb")
    parser.add_argument("--out", type=Path, default=REPO / "runs", help="where the run goes (default: runs/)")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    environment = {**os.environ, "PYTHON": sys.executable}  # the task starts the app with this interpreter
    if args.here:
        if not os.environ.get("DISPLAY"):
            return _refuse("--here needs a desktop session (DISPLAY is not set); leave it out to use Xvfb")
        return _run_and_check("desktop", environment, out)
    if shutil.which("Xvfb") is None:
        return _refuse(
            "Xvfb is not installed (Debian/Ubuntu: sudo apt-get install xvfb); "
            "or watch the run on your own screen with --here"
        )
    with _virtual_display() as display:
        return _run_and_check(f"desktop:{display}", environment, out)


def _run_and_check(device: str, environment: Mapping[str, str], out: Path) -> int:
    before = set(out.iterdir()) if out.is_dir() else set()
    _say(f"1/2  agent run {TASK} --device {device}")
    code = _agent(["run", TASK, "--device", device, "--out", str(out)], environment)
    new = sorted(set(out.iterdir()) - before) if out.is_dir() else []
    if len(new) != 1:
        return code or _refuse(f"the run left no new run directory in {out}")
    run = new[0]
    _say(f"2/2  agent replay {run} --check   (today's code reads the recorded answers again)")
    replay = _agent(["replay", str(run), "--check"], environment)
    _say(f"the run: {run}\nits report: {run / 'report.html'} (open it in a browser)")
    return code or replay


def _agent(args: list[str], environment: Mapping[str, str]) -> int:
    return subprocess.run([*AGENT, *args], cwd=REPO, env=dict(environment), check=False).returncode


@contextmanager
def _virtual_display() -> Iterator[str]:
    """A private Xvfb display (":99" or the next free one), stopped when the block ends."""
    for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 100):
        if Path(f"/tmp/.X{number}-lock").exists() or (X_SOCKETS / f"X{number}").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", SCREEN, "-nolisten", "tcp", "-noreset"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            if _wait_for_socket(server, X_SOCKETS / f"X{number}"):
                yield f":{number}"
                return
        finally:
            server.terminate()
            server.wait(timeout=10)
    raise SystemExit(_refuse("no free X display number for Xvfb between :99 and :198"))


def _wait_for_socket(server: subprocess.Popen[bytes], socket: Path) -> bool:
    """True once the server listens; False if it exited (another process took the number first)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        if socket.exists():
            return True
        time.sleep(0.05)
    raise SystemExit(_refuse(f"Xvfb did not start within 10 s (its socket {socket} never appeared)"))


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _refuse(message: str) -> int:
    print(f"first_run: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
