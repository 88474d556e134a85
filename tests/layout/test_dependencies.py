"""What the code imports when a module loads must come from a dependency pyproject declares.

A package that only arrives with another one (click with older typer releases, say) is there on a
developer's machine and missing on a fresh one: `pip install -e .` must be enough for `agent run`.
Imports at module level outside the CUDA fast path must come from the core dependencies; lazy
imports inside functions (torch, transformers, python-xlib ...) are the extras' business.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("qwen_gui_agent",)
FAST_PATHS = (
    REPO / "qwen_gui_agent" / "agent" / "backends" / "local" / "fastpath",  # loaded only by the local backend,
    REPO / "qwen_gui_agent" / "agent" / "backends" / "local" / "fleet",  # with the [local] extra
    REPO / "qwen_gui_agent" / "agent" / "mcp",
)  # loaded only by `agent mcp`, with the [mcp] extra


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def core_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = (re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0] for requirement in project["dependencies"])
    return {_normalized(name) for name in names}


def module_level_imports(path: Path) -> set[str]:
    """Top-level names of the third-party modules ``path`` imports as it loads (TYPE_CHECKING blocks aside)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    ours = ("__future__", "qwen_gui_agent")
    return {name for name in names if name not in sys.stdlib_module_names and name not in ours}


def test_module_level_imports_come_from_core_dependencies() -> None:
    core = core_distributions()
    providers = packages_distributions()
    undeclared = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if any(path.is_relative_to(folder) for folder in FAST_PATHS):
                continue
            for module in sorted(module_level_imports(path)):
                if not {_normalized(name) for name in providers.get(module, [module])} & core:
                    undeclared.append(f"{path.relative_to(REPO)}: {module}")
    assert not undeclared, f"imported at module level but not a core dependency in pyproject.toml: {undeclared}"
