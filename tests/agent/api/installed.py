"""Running Python the way a user's project sees an installed qwen-gui-agent: only ``qwen_gui_agent`` on the path.

A checkout on PYTHONPATH would also put the repository's top-level ``agent``, ``tools``, ``tasks``
and ``devices`` folders on the path, which an installed wheel does not have. A folder holding only a
link to the checkout's ``qwen_gui_agent`` gives the wheel's view (the package finds its sub-packages
through the checkout, as in an editable install).
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def installed_view(folder: Path) -> Path:
    """A path entry holding only ``qwen_gui_agent`` (a link to this checkout's)."""
    folder.mkdir()
    (folder / "qwen_gui_agent").symlink_to(REPO / "qwen_gui_agent", target_is_directory=True)
    return folder


def user_env(display_env: dict[str, str], site: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's process: their display, the installed view, no AGENT_* settings of ours."""
    env = {key: value for key, value in display_env.items() if not key.startswith("AGENT_")}
    env.update(PYTHONPATH=str(site), **extra)
    return env
