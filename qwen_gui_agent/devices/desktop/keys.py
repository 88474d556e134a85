"""Canonical key names (qwen_gui_agent.tools.keys) -> the names pyautogui takes.

Most canonical names are already pyautogui's; the table holds only the ones
that differ, and ``cmd`` depends on the desktop: the Command key on macOS, the
Super/Windows key elsewhere.
"""

from __future__ import annotations

from .settings import DesktopPlatform

_RENAMED = {
    "menu": "apps",  # pyautogui's name for the context-menu key
}


def pyautogui_key(canonical: str, platform: DesktopPlatform) -> str:
    """The pyautogui key name for one canonical key name."""
    if canonical == "cmd":
        return "command" if platform == "macos" else "win"
    return _RENAMED.get(canonical, canonical)


def pyautogui_keys(canonical: tuple[str, ...], platform: DesktopPlatform) -> tuple[str, ...]:
    return tuple(pyautogui_key(key, platform) for key in canonical)


def paste_chord(platform: DesktopPlatform) -> tuple[str, ...]:
    """The chord that pastes the clipboard into the focused field."""
    return ("command", "v") if platform == "macos" else ("ctrl", "v")
