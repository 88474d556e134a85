"""qwen-gui-agent, importable under one distinctive name.

The project's packages live at the top of the repository (agent/, devices/, tools/, tasks/), and
an install maps them under this package: ``qwen_gui_agent.tools.actions``, ``qwen_gui_agent.agent.cli``
and so on, so a user's own ``tools.py`` or ``tasks/`` never collides with ours.

In a source checkout (and an editable install) the four packages sit beside this folder rather than
inside it, so the package's search path is extended to the checkout: the same import names work in
a checkout, an editable install and a wheel.
"""

from __future__ import annotations

from pathlib import Path

__version__ = "0.1.0"

_HERE = Path(__file__).resolve().parent
_CHECKOUT = _HERE.parent
if not (_HERE / "agent").is_dir() and (_CHECKOUT / "agent" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821 - a package's __path__, set by the import system
