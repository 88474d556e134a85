"""Screen capture with mss: monitors, the chosen rectangle, its geometry, pixels -> PIL.

The hot path hands mss's BGRA buffer straight to Pillow (no PNG encode, no
numpy copy). Geometry: on X11 and Windows pyautogui takes physical pixels
(scale 1); on macOS mss reports monitors in points while captures come back in
pixels, so the scale is capture width / monitor width. ``mss`` is imported
lazily: this module imports on a headless server.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tenacity
from PIL import Image

from ...tools.frames import ScreenGeometry
from ..errors import CaptureError, DeviceDisconnected, DeviceNotFound, MissingDependency
from .settings import DesktopPlatform, DesktopSettings, Region

log = logging.getLogger(__name__)

X_SOCKET_DIR = Path("/tmp/.X11-unix")
RESET_GRACE_S = 2.0  # how long a refused X connection is tried again (an X server reset takes milliseconds)
RESET_RETRY_WAIT_S = 0.02


@dataclass(frozen=True)
class MonitorInfo:
    """One mss monitor (number 0 is every monitor together)."""

    number: int
    region: Region
    primary: bool = False
    name: str = ""


def display_problem(platform: DesktopPlatform, environ: Mapping[str, str]) -> MissingDependency | None:
    """Why no X display can be reached, with the fix; None when one may be there.

    The X libraries read DISPLAY themselves; we only look at it to replace their
    tracebacks with a sentence saying what to do.
    """
    if platform != "x11" or environ.get("DISPLAY"):
        return None
    if environ.get("WAYLAND_DISPLAY"):
        return MissingDependency(
            "this is a Wayland session without an X display (DISPLAY is not set)",
            hint="enable XWayland (most compositors do by default) so DISPLAY is set, or log in to an X11 session; "
            "screen capture and synthetic input need X11",
        )
    return MissingDependency(
        "no X display: DISPLAY is not set",
        hint="run on a desktop session, set DISPLAY (e.g. DISPLAY=:0), or start a virtual one: "
        "xvfb-run -s '-screen 0 1920x1080x24' agent ...",
    )


def open_mss(display: str | None = None) -> Any:
    """An mss screenshot object for ``display`` (an X display name), or this process's display.

    An X server started without ``-noreset`` (a plain ``Xvfb :N``) resets when its last client leaves
    and refuses connections for a moment; a run that closes the display and opens it again (the next
    task of a suite) lands in that moment. So a refused connection is tried again for up to
    RESET_GRACE_S while the server's socket is there; a display with no server fails at once.
    """
    try:
        import mss  # lazy: imported when a desktop is opened, never on import
    except ImportError as error:
        raise MissingDependency("the mss package is not installed", hint="pip install mss") from error
    factory = getattr(mss, "MSS", None) or mss.mss  # mss>=10.2 names the class; older versions a factory
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_delay(RESET_GRACE_S),
        wait=tenacity.wait_fixed(RESET_RETRY_WAIT_S),
        retry=tenacity.retry_if_exception_type(mss.ScreenShotError)
        & tenacity.retry_if_exception(lambda _error: _server_socket_exists(display)),
        reraise=True,
    )
    try:
        return retrying(lambda: factory(display=display) if display else factory())
    except mss.ScreenShotError as error:
        raise MissingDependency(
            f"cannot open the display for screen capture ({error})",
            hint="check that DISPLAY names a running X server you may connect to (xhost/XAUTHORITY)",
        ) from error


def _server_socket_exists(display: str | None) -> bool:
    """Whether the local X server of ``display`` (":91", ":0.0"; None: $DISPLAY) has its socket: it is there,
    perhaps resetting. A remote or unreadable name counts as there (it gets the short retry)."""
    name = display or os.environ.get("DISPLAY", "")
    host, _, rest = name.partition(":")
    number = rest.split(".", 1)[0]
    if host not in ("", "unix") or not number.isdigit():
        return True
    return (X_SOCKET_DIR / f"X{number}").exists()


def choose_region(monitors: list[MonitorInfo], settings: DesktopSettings) -> tuple[Region, str]:
    """The rectangle to capture and a short name for it ("monitor 2", "region 800x600+0+0")."""
    if settings.region is not None:
        return settings.region, f"region {settings.region}"
    if settings.monitor is None:
        real = monitors[1:] or monitors
        if not real:
            raise DeviceNotFound("the display reports no monitors", hint="check the X server / display settings")
        chosen = next((m for m in real if m.primary), real[0])
        return chosen.region, f"monitor {chosen.number}"
    if settings.monitor >= len(monitors):
        available = ", ".join(f"{m.number} ({m.region})" for m in monitors) or "none"
        raise DeviceNotFound(
            f"there is no monitor {settings.monitor}",
            hint=f"pick one of: {available} (0 = all monitors together); `agent devices` lists them",
        )
    return monitors[settings.monitor].region, f"monitor {settings.monitor}"


def detect_geometry(region: Region, capture_size: tuple[int, int], settings: DesktopSettings) -> ScreenGeometry:
    """Where a capture of ``region`` sits in pyautogui's coordinates; overrides win."""
    width, height = capture_size
    scale = settings.scale
    if scale is None:
        # macOS: mss regions are points, pixels come back at the backing scale (2.0 on Retina).
        scale = width / region.width if settings.platform == "macos" else 1.0
    origin_x, origin_y = settings.origin if settings.origin is not None else (region.left, region.top)
    return ScreenGeometry(width=width, height=height, scale=scale, origin_x=origin_x, origin_y=origin_y)


def bgra_to_image(raw: bytes | bytearray, size: tuple[int, int]) -> Image.Image:
    """mss's BGRA buffer -> an RGB PIL image, decoded straight from the buffer."""
    return Image.frombuffer("RGB", size, raw, "raw", "BGRX", 0, 1)


class ScreenCapture:
    """An open mss connection that grabs one rectangle as a PIL image."""

    def __init__(self, sct: Any, display: str | None = None) -> None:
        self._sct = sct
        self._display = display

    @classmethod
    def open(cls, display: str | None = None) -> ScreenCapture:
        return cls(open_mss(display), display)

    def monitors(self) -> list[MonitorInfo]:
        """Every monitor mss sees, numbered as mss numbers them."""
        return [
            MonitorInfo(
                number=number,
                region=Region(left=m["left"], top=m["top"], width=m["width"], height=m["height"]),
                primary=bool(m.get("is_primary", False)),
                name=str(m.get("name") or m.get("output") or ""),
            )
            for number, m in enumerate(self._sct.monitors)
        ]

    def grab(self, region: Region) -> tuple[Image.Image, float]:
        """The pixels of ``region`` now, and how long the capture took in milliseconds."""
        started = time.perf_counter()
        try:
            shot = self._sct.grab(region.as_mss())
        except Exception as error:  # mss raises ScreenShotError, ctypes/xcb errors escape as others
            if x_display_gone(self._display):  # the X server is gone: the device dropped, not a glitch
                raise DeviceDisconnected(
                    f"the X display {self._display or '$DISPLAY'} is gone (screen capture failed: "
                    f"{type(error).__name__})",
                    hint="restart the X server, then run the task again",
                ) from error
            raise CaptureError(
                f"screen capture of {region} failed ({type(error).__name__}: {error})",
                hint="check that the region lies on the screen and the display is still running",
            ) from error
        image = bgra_to_image(shot.raw, (shot.width, shot.height))
        return image, (time.perf_counter() - started) * 1000

    def close(self) -> None:
        try:
            self._sct.close()
        except Exception as error:  # closing the connection to an X server that died raises from xcb
            raise DeviceDisconnected(
                f"the X display {self._display or '$DISPLAY'} is gone (closing the capture "
                f"connection failed: {type(error).__name__})"
            ) from error


def x_display_gone(display: str | None, *, within_s: float = 1.0) -> bool:
    """Whether the X server of ``display`` stops accepting connections within ``within_s`` (a failed capture
    can come from a server in the middle of shutting down, which still accepts one for a moment)."""
    deadline = time.monotonic() + within_s
    while True:
        if not x_display_reachable(display):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def x_display_reachable(display: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the X server of ``display`` (``:N``, ``HOST:N``; else $DISPLAY) accepts a connection now.

    Only the socket is tried (``/tmp/.X11-unix/XN``, or TCP port 6000+N): enough to tell a server that
    died from one that refused one request. A name this cannot read counts as reachable.
    """
    name = display or environ.get("DISPLAY", "")
    host, _, rest = name.rpartition(":")
    number = rest.split(".", 1)[0]
    if not number.isdigit():
        return True
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            socket.create_connection((host, 6000 + int(number)), timeout=1.0).close()
    except OSError:
        return False
    return True
