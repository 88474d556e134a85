"""The X displays episodes play on: Xvfb servers started for the eval, or displays the user names.

``--displays auto`` (the default) starts one Xvfb per parallel worker, sized for the view, on free
display numbers, and stops them at the end; ``--displays :0`` or ``:91,:92`` uses running X
servers (a desktop you can watch), which are left as they were.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ....devices.desktop.capture import ScreenCapture
from ....devices.errors import DeviceError

log = logging.getLogger(__name__)

FIRST_DISPLAY = 120  # above what desktops, CI runners and the test suite's Xvfb servers use
DISPLAY_RANGE = 200
READY_TIMEOUT_S = 15.0
_SOCKETS = Path("/tmp/.X11-unix")


class DisplayError(RuntimeError):
    """An X display could not be started or reached."""


@dataclass
class XvfbServer:
    display: str
    process: subprocess.Popen[bytes]
    log_path: Path = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log_path.unlink(missing_ok=True)


def parse_displays(text: str) -> list[str]:
    """``:91,:92`` -> [":91", ":92"]; DisplayError for anything that is not a list of ``:N``."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    bad = [name for name in names if not (name.startswith(":") and name[1:].isdigit())]
    if not names or bad:
        raise DisplayError(f"--displays {text!r}: give 'auto' or X displays like :0 or :91,:92")
    return list(dict.fromkeys(names))


@contextlib.contextmanager
def xvfb_displays(count: int, size: tuple[int, int]) -> Iterator[list[str]]:
    """``count`` fresh Xvfb servers of ``size`` physical pixels, stopped when the block ends."""
    servers: list[XvfbServer] = []
    try:
        for _ in range(count):
            servers.append(start_xvfb(size, after=_number(servers[-1].display) + 1 if servers else FIRST_DISPLAY))
        yield [server.display for server in servers]
    finally:
        for server in servers:
            server.stop()


def start_xvfb(size: tuple[int, int], *, after: int = FIRST_DISPLAY) -> XvfbServer:
    """An Xvfb on the first free display number from ``after``, ready for clients."""
    width, height = size
    for number in range(after, FIRST_DISPLAY + DISPLAY_RANGE):
        if Path(f"/tmp/.X{number}-lock").exists() or (_SOCKETS / f"X{number}").exists():
            continue
        with tempfile.NamedTemporaryFile(prefix=f"xvfb-{number}-", suffix=".log", delete=False) as log_file:
            # Its own session: a Ctrl-C at the terminal reaches us, and we stop it after the episodes end cleanly.
            process = subprocess.Popen(
                ["Xvfb", f":{number}", "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = XvfbServer(f":{number}", process, Path(log_file.name))
        if _wait_until_ready(server):
            return server
        server.stop()  # lost the number to another process, or it failed: try the next one
    raise DisplayError(f"no free X display number in :{after}..:{FIRST_DISPLAY + DISPLAY_RANGE - 1}")


def check_display(display: str) -> None:
    """Raise DisplayError unless an X client can connect to ``display``."""
    try:
        ScreenCapture.open(display).close()
    except DeviceError as error:
        raise DisplayError(f"cannot connect to the X display {display}: {error}") from None


def _wait_until_ready(server: XvfbServer) -> bool:
    number = _number(server.display)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log.info("Xvfb %s exited: %s", server.display, server.log_path.read_text(errors="replace")[-300:])
            return False
        if (_SOCKETS / f"X{number}").exists():
            try:
                check_display(server.display)
                return True
            except DisplayError:
                pass
        time.sleep(0.05)
    return False


def _number(display: str) -> int:
    return int(display.lstrip(":"))
