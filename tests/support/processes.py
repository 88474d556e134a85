"""Starting and stopping the child processes tests start (Xvfb, the test apps, the agent)."""

from __future__ import annotations

import signal
import subprocess


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child the test sends SIGINT (Ctrl-C): the signal's default disposition.

    A shell without job control starts a background command (``.ci/run &``) with SIGINT ignored, and
    children inherit that: Python then installs no KeyboardInterrupt handler, and the test's Ctrl-C
    does nothing (seen: three Ctrl-C tests failed only when the CI ran in the background).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


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
