"""python-xlib's connection cookie lookup, made to behave like libX11's when there is no cookie to find.

libX11 (what xdotool, mss and every X app use) connects without a cookie when the Xauthority file
is missing or holds none, which is all an X server without access control (a plain Xvfb) needs.
python-xlib (pyautogui's and the key binder's connection) differs. With the file missing, 0.33
connects without a cookie (it catches its own ``XauthError``), but that is the release's choice,
not a promise. With the file empty, 0.33 connects too but prints "Xlib.xauth: warning, no
xauthority details available" to stdout, where it lands in the middle of ``--json`` events and
suite tables. ``quiet_missing_cookies`` wraps its lookup once per process: no usable file means no
cookie, quietly, whatever the release; a file with entries is read by python-xlib as before. A
server that does want a cookie refuses the connection either way, and says so.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_installed = threading.Lock()
_done = False


def cookie_file(environ: dict[str, str] | os._Environ[str] | None = None) -> Path | None:
    """The Xauthority file X clients read: $XAUTHORITY, else ~/.Xauthority (None without $HOME)."""
    environ = os.environ if environ is None else environ
    if environ.get("XAUTHORITY"):
        return Path(environ["XAUTHORITY"])
    return Path(environ["HOME"]) / ".Xauthority" if environ.get("HOME") else None


def has_cookies(path: Path | None) -> bool:
    """Whether ``path`` is a readable file with at least one entry (python-xlib reads only those quietly)."""
    try:
        return path is not None and path.stat().st_size > 0 and os.access(path, os.R_OK)
    except OSError:
        return False


def quiet_missing_cookies() -> None:
    """Wrap python-xlib's cookie lookup (idempotent, thread-safe); nothing happens without python-xlib."""
    global _done
    with _installed:
        if _done:
            return
        try:
            from Xlib.support import unix_connect
        except ImportError:
            return
        original: Callable[..., Any] = unix_connect.get_auth

        def get_auth(*args: Any, **kwargs: Any) -> Any:
            if not has_cookies(cookie_file()):
                return "", ""  # libX11's answer: connect without a cookie
            return original(*args, **kwargs)

        unix_connect.get_auth = get_auth
        _done = True
