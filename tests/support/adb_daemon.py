"""The loopback adb server as the daemon ``adb start-server`` leaves behind: its own process, until ``host:kill``.

    python3 -m tests.support.adb_daemon PORT

A fake ``adb`` executable (``write_fake_adb``) starts it on ``adb start-server``, as real adb does on
$ANDROID_ADB_SERVER_PORT, and returns once it listens; adbutils runs that when no server answers.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

from tests.support.adb_server import AdbServer

FAKE_ADB = """#!{python}
import os, socket, subprocess, sys, time
if sys.argv[1:] != ["start-server"]:
    sys.exit("fake adb: only start-server is emulated")
port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
subprocess.Popen([{python!r}, "-m", "tests.support.adb_daemon", str(port)], cwd={repo!r},
                 env={{**os.environ, "PYTHONPATH": {repo!r}}}, start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("fake adb: the server did not start")
"""


def write_fake_adb(folder: Path) -> Path:
    """An ``adb`` whose ``start-server`` starts this daemon (ADBUTILS_ADB_PATH points adbutils at it)."""
    path = folder / "adb"
    repo = str(Path(__file__).resolve().parents[2])
    path.write_text(FAKE_ADB.format(python=sys.executable, repo=repo), encoding="utf-8")
    path.chmod(0o755)
    return path


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def main() -> None:
    server = AdbServer().start(int(sys.argv[1]))
    try:
        while not server.killed.wait(timeout=0.2):
            pass
        time.sleep(0.1)  # the OKAY reaches the client before the socket closes
    finally:
        server.stop()


if __name__ == "__main__":
    main()
