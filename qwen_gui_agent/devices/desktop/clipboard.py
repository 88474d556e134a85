"""The system clipboard through its command-line tools (xclip/xsel on X11, pbcopy on macOS).

Used to type text that synthetic key events cannot carry (Chinese, accents):
put it on the clipboard, paste, put the old text back. Only text is restored;
an image on the clipboard is lost (said in docs/devices.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import DeviceError, MissingDependency
from .settings import DesktopPlatform

log = logging.getLogger(__name__)

TOOL_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ClipboardTool:
    """Commands that read, write and (where the tool can) clear the clipboard."""

    name: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    clear: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()  # extra environment (pbcopy needs a UTF-8 locale)


XCLIP = ClipboardTool(
    "xclip",
    read=("xclip", "-selection", "clipboard", "-out", "-target", "UTF8_STRING"),
    write=("xclip", "-selection", "clipboard", "-in"),
)
XSEL = ClipboardTool(
    "xsel",
    read=("xsel", "--clipboard", "--output"),
    write=("xsel", "--clipboard", "--input"),
    clear=("xsel", "--clipboard", "--clear"),
)
PBCOPY = ClipboardTool(
    "pbcopy", read=("pbpaste",), write=("pbcopy",), env=(("LANG", "en_US.UTF-8"), ("LC_CTYPE", "UTF-8"))
)

_CANDIDATES: dict[DesktopPlatform, tuple[ClipboardTool, ...]] = {
    "x11": (XCLIP, XSEL),
    "macos": (PBCOPY,),
    "windows": (),
}


def find_clipboard_tool(platform: DesktopPlatform, which: Callable[[str], str | None] = shutil.which) -> ClipboardTool:
    """The first clipboard tool installed for ``platform``, or MissingDependency naming the fix."""
    for tool in _CANDIDATES[platform]:
        if which(tool.write[0]) and which(tool.read[0]):
            return tool
    if platform == "x11":
        raise MissingDependency(
            "typing non-ASCII text needs a clipboard tool and neither xclip nor xsel is installed",
            hint="install one (Debian/Ubuntu: apt-get install xclip), or type through xdotool "
            "(--unicode-input xdotool, needs: apt-get install xdotool)",
        )
    if platform == "macos":
        raise MissingDependency("pbcopy/pbpaste are missing", hint="they ship with macOS; check PATH")
    raise MissingDependency(
        "typing non-ASCII text is not supported on Windows yet", hint="type ASCII text, or run the agent on X11/macOS"
    )


class Clipboard:
    """Text in and out of the system clipboard with one tool."""

    def __init__(self, tool: ClipboardTool) -> None:
        self.tool = tool

    def read(self) -> str | None:
        """The clipboard's text, or None when it holds no text (empty, an image, no owner)."""
        result = self._run(self.tool.read, capture=True)
        if result.returncode != 0:
            log.debug("%s found no text on the clipboard: %s", self.tool.name, result.stderr.strip())
            return None
        return result.stdout.decode("utf-8", errors="replace")

    def write(self, text: str) -> None:
        result = self._run(self.tool.write, data=text.encode("utf-8"))
        if result.returncode != 0:
            raise DeviceError(
                f"{self.tool.name} could not set the clipboard (exit {result.returncode})",
                hint="check that the display is running and the tool works from a shell",
            )

    def restore(self, previous: str | None) -> None:
        """Put back what ``read`` returned before: the old text, or nothing."""
        if previous is not None:
            self.write(previous)
        elif self.tool.clear is not None:
            self._run(self.tool.clear)
        else:
            self.write("")  # xclip cannot drop ownership; an empty text is the closest

    def _run(
        self, argv: tuple[str, ...], *, data: bytes | None = None, capture: bool = False
    ) -> subprocess.CompletedProcess[bytes]:
        env = {**os.environ, **dict(self.tool.env)} if self.tool.env else None
        # xclip/xsel fork a child that keeps serving the selection: its output must
        # not be a pipe we wait on, or the call would hang until the selection changes.
        output = subprocess.PIPE if capture else subprocess.DEVNULL
        try:
            return subprocess.run(
                argv, input=data, stdout=output, stderr=output, env=env, timeout=TOOL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as error:
            raise DeviceError(
                f"{self.tool.name} did not answer within {TOOL_TIMEOUT_S:g} s",
                hint="the application owning the clipboard may be hung; close it or copy something else",
            ) from error
