"""The package layout stays legible: no import circles, small modules, the fast path kept behind the local backend.

The import graph is read from the source with ``ast`` (function-level and TYPE_CHECKING imports
included: a lazy import still ties two modules together), so the test needs no heavy dependency.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("agent", "devices", "tools", "tasks")  # folders at the top of the repository ...
NAMESPACE = "qwen_gui_agent"  # ... installed and imported under this name
MAX_LINES = 420  # "about 400": a module past this wants splitting
FASTPATH = "qwen_gui_agent.agent.backends.fastpath"
FASTPATH_IMPORTERS = {"qwen_gui_agent.agent.backends.local"}  # besides the package itself (and benchmarks, tests)
SOURCE_FOLDERS = (*PACKAGES, "tests", "benchmarks", NAMESPACE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([NAMESPACE, *parts] if parts[0] in PACKAGES else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports, wherever in the file the import statement is."""
    found: set[str] = set()
    this = module_name(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against this module's package
                package = this.split(".") if path.name == "__init__.py" else this.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + [node.module])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in modules else base)
    return {name for name in found if name in modules and name != this}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_sees_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


def test_dependencies_point_one_way() -> None:
    """tools imports nothing of ours; devices only tools; tasks only tools."""
    allowed = {"tools": {"tools"}, "devices": {"devices", "tools"}, "tasks": {"tasks", "tools"}}
    wrong = [
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if module.split(".")[1] in allowed and target.split(".")[1] not in allowed[module.split(".")[1]]
    ]
    assert wrong == []


def bare_imports(path: Path) -> list[str]:
    """Imports of our packages by their folder names (``import tools``), which a user's own tools.py shadows."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        found += [f"{path}:{node.lineno}: {name}" for name in names if name.split(".")[0] in PACKAGES]
    return found


def test_bare_import_finder_sees_one(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text("import os\nfrom tools.actions import Click\nimport qwen_gui_agent.tools\n")
    assert [line.split(": ")[1] for line in bare_imports(source)] == ["tools.actions"]


def test_everything_imports_through_the_distinctive_name() -> None:
    offenders = [line for folder in SOURCE_FOLDERS for path in sorted((REPO / folder).rglob("*.py"))
                 for line in bare_imports(path)]
    assert offenders == []


def test_install_lists_every_package() -> None:
    """pyproject's explicit package list (needed for the name mapping) misses no package folder."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {module_name(init.parent / "x.py").rsplit(".", 1)[0]
               for package in PACKAGES for init in (REPO / package).rglob("__init__.py")}
    assert set(settings["packages"]) == folders | {NAMESPACE}
    assert {name: settings["package-dir"][f"{NAMESPACE}.{name}"] for name in PACKAGES} == {n: n for n in PACKAGES}


@pytest.mark.parametrize("name", sorted(project_modules()))
def test_module_is_small(name: str) -> None:
    lines = project_modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"


def test_fast_path_is_imported_only_by_the_local_backend() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if not module.startswith(FASTPATH) and module not in FASTPATH_IMPORTERS
        for target in targets
        if target.startswith(FASTPATH)
    )
    assert outside == []
