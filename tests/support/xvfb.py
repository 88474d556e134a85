"""A real X server for tests: Xvfb on a free display number.

    from tests.support.xvfb import start_xvfb, xvfb_available

    with start_xvfb(1280, 800) as x:          # waits until the server accepts connections
        subprocess.run(cmd, env=x.env())     # DISPLAY=:N for a child process
        x.set_monitors([VirtualMonitor("LEFT", 0, 0, 640, 800, primary=True), ...])

``start_xvfb`` raises ``XvfbUnavailable`` if the binary is missing; pytest
fixtures turn that into a skip (``pytest.skip(str(error))``). The server runs
with ``-noreset`` so RandR monitors set by one client outlive it.

pyautogui connects to ``$DISPLAY`` once, when first imported, and keeps that
connection for the life of the process. So every in-process use of the desktop
driver in a test session must share ONE display: ``shared_xvfb()`` starts it
once per process (1600x1000) and ``use_shared_display(monkeypatch)`` points
DISPLAY/XAUTHORITY at it before pyautogui is imported. Anything needing another
size or monitor layout runs in a subprocess (``agent do`` with ``env=x.env()``).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.processes import stop_process

X_SOCKET_DIR = Path("/tmp/.X11-unix")
FIRST_DISPLAY = 90  # well above what desktops and CI runners use
SHARED_SIZE = (1600, 1000)


class XvfbUnavailable(RuntimeError):
    """Xvfb cannot run here (binary missing); tests skip with this message."""


@dataclass(frozen=True)
class VirtualMonitor:
    """A RandR 1.5 monitor: a named rectangle of the screen that clients (mss) see as a monitor."""

    name: str
    x: int
    y: int
    width: int
    height: int
    primary: bool = False


@dataclass
class XvfbServer:
    """A running Xvfb; ``close`` (or leaving ``start_xvfb``'s block) stops it."""

    number: int
    width: int
    height: int
    dpi: int
    process: subprocess.Popen[bytes]
    log_path: Path
    xauthority: Path  # empty: the server has no access control, but python-xlib insists on the file

    @property
    def display(self) -> str:
        return f":{self.number}"

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for child processes that points them at this server (and no Wayland)."""
        env = dict(os.environ if base is None else base)
        env["DISPLAY"] = self.display
        env["XAUTHORITY"] = str(self.xauthority)
        env.pop("WAYLAND_DISPLAY", None)
        return env

    def set_monitors(self, monitors: Sequence[VirtualMonitor]) -> None:
        """Declare RandR monitors (what ``xrandr --setmonitor`` does), replacing ones we set before."""
        _set_randr_monitors(self.display, monitors)

    def close(self) -> None:
        stop_process(self.process)
        self.log_path.unlink(missing_ok=True)
        self.xauthority.unlink(missing_ok=True)


def xvfb_available() -> bool:
    return shutil.which("Xvfb") is not None


def _display_in_use(number: int) -> bool:
    return Path(f"/tmp/.X{number}-lock").exists() or (X_SOCKET_DIR / f"X{number}").exists()


def _wait_until_ready(server: XvfbServer, timeout: float) -> None:
    """Ready = the server's socket exists and an X client can connect."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Xvfb {server.display} exited: {server.log_path.read_text(errors='replace')[-500:]}")
        if (X_SOCKET_DIR / f"X{server.number}").exists() and _can_connect(server.display):
            return
        time.sleep(0.05)
    raise TimeoutError(f"Xvfb {server.display} did not accept connections within {timeout:g} s")


def _can_connect(display: str) -> bool:
    xlib = _load_x11()
    if xlib is None:  # no libX11 to ask: the socket's existence has to do
        return True
    handle = xlib.XOpenDisplay(display.encode())
    if not handle:
        return False
    xlib.XCloseDisplay(handle)
    return True


def start_xvfb_server(
    width: int = 1280, height: int = 800, *, depth: int = 24, dpi: int = 96, timeout: float = 10.0, noreset: bool = True
) -> XvfbServer:
    """Start Xvfb on the first free display number and wait until it accepts clients.

    ``noreset=False`` starts it as a plain ``Xvfb :N`` does: it resets whenever its last client leaves.
    """
    if not xvfb_available():
        raise XvfbUnavailable("Xvfb is not installed (Debian: apt-get install xvfb)")
    for number in range(FIRST_DISPLAY, FIRST_DISPLAY + 100):
        if _display_in_use(number):
            continue
        log_file = tempfile.NamedTemporaryFile(prefix=f"xvfb-{number}-", suffix=".log", delete=False)  # noqa: SIM115
        argv = [
            "Xvfb",
            f":{number}",
            "-screen",
            "0",
            f"{width}x{height}x{depth}",
            "-dpi",
            str(dpi),
            "-nolisten",
            "tcp",
            *(["-noreset"] if noreset else []),
        ]
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log_file.close()
        xauthority = Path(log_file.name).with_suffix(".xauth")
        xauthority.touch()
        server = XvfbServer(number, width, height, dpi, process, Path(log_file.name), xauthority)
        try:
            _wait_until_ready(server, timeout)
        except RuntimeError:  # lost a race for this number to another process: try the next one
            server.close()
            continue
        except BaseException:
            server.close()
            raise
        return server
    raise RuntimeError("no free X display number between :90 and :189")


@contextmanager
def start_xvfb(
    width: int = 1280, height: int = 800, *, depth: int = 24, dpi: int = 96, timeout: float = 10.0
) -> Iterator[XvfbServer]:
    """Xvfb for the duration of a ``with`` block."""
    server = start_xvfb_server(width, height, depth=depth, dpi=dpi, timeout=timeout)
    try:
        yield server
    finally:
        server.close()


@functools.cache  # one per process on purpose: pyautogui can only ever talk to one display
def shared_xvfb() -> XvfbServer:
    """The test process's shared display, started on first use and stopped at exit."""
    server = start_xvfb_server(*SHARED_SIZE)
    atexit.register(server.close)
    return server


def use_shared_display(monkeypatch: Any) -> XvfbServer:
    """Point this process at the shared display (raises XvfbUnavailable without Xvfb)."""
    server = shared_xvfb()
    monkeypatch.setenv("DISPLAY", server.display)
    monkeypatch.setenv("XAUTHORITY", str(server.xauthority))
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return server


# ----------------------------------------------------------------------------- RandR monitors via libXrandr


class _MonitorInfo(ctypes.Structure):  # XRRMonitorInfo from <X11/extensions/Xrandr.h>
    _fields_ = [
        ("name", ctypes.c_ulong),
        ("primary", ctypes.c_int),
        ("automatic", ctypes.c_int),
        ("noutput", ctypes.c_int),
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("mwidth", ctypes.c_int),
        ("mheight", ctypes.c_int),
        ("outputs", ctypes.c_void_p),
    ]


def _load_x11() -> ctypes.CDLL | None:
    path = ctypes.util.find_library("X11")
    if path is None:
        return None
    lib = ctypes.CDLL(path)
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XDefaultRootWindow.restype = ctypes.c_ulong
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XInternAtom.restype = ctypes.c_ulong
    lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XFree.argtypes = [ctypes.c_void_p]
    return lib


def _load_xrandr() -> ctypes.CDLL:
    path = ctypes.util.find_library("Xrandr")
    if path is None:
        raise XvfbUnavailable("libXrandr is not installed (Debian: apt-get install libxrandr2)")
    lib = ctypes.CDLL(path)
    lib.XRRAllocateMonitor.restype = ctypes.POINTER(_MonitorInfo)
    lib.XRRAllocateMonitor.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XRRSetMonitor.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_MonitorInfo)]
    return lib


def _set_randr_monitors(display: str, monitors: Sequence[VirtualMonitor]) -> None:
    xlib, xrandr = _load_x11(), _load_xrandr()
    if xlib is None:
        raise XvfbUnavailable("libX11 is not installed")
    handle = xlib.XOpenDisplay(display.encode())
    if not handle:
        raise RuntimeError(f"cannot connect to {display}")
    try:
        root = xlib.XDefaultRootWindow(handle)
        for monitor in monitors:
            info = xrandr.XRRAllocateMonitor(handle, 0)  # no outputs: a purely virtual monitor
            fields = info.contents
            fields.name = xlib.XInternAtom(handle, monitor.name.encode(), 0)
            fields.primary = int(monitor.primary)
            fields.x, fields.y, fields.width, fields.height = monitor.x, monitor.y, monitor.width, monitor.height
            fields.mwidth, fields.mheight = monitor.width * 254 // 960, monitor.height * 254 // 960  # 96 dpi
            xrandr.XRRSetMonitor(handle, root, info)
            xlib.XFree(info)
        xlib.XSync(handle, 0)
    finally:
        xlib.XCloseDisplay(handle)
