"""Stopping the child processes tests start (Xvfb, the test apps)."""

from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit within ``timeout``; a no-op once it has exited."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
