"""The package layout stays legible: no import circles, small modules, the fast path kept behind the local backend.

The import graph is read from the source with ``ast`` (function-level and TYPE_CHECKING imports
included: a lazy import still ties two modules together), so the test needs no heavy dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "qwen_gui_agent"  # the one installed package ...
PACKAGES = ("agent", "devices", "tools", "tasks")  # ... and its four rooms
PACKAGE_ROOT = REPO / NAMESPACE
MAX_LINES = 420  # "about 400": a module past this wants splitting
LOCAL = "qwen_gui_agent.agent.backends.local"
# The CUDA parts of the local backend (torch, Triton), imported by nothing outside it (benchmarks and tests aside).
FASTPATH = (f"{LOCAL}.fastpath", f"{LOCAL}.fleet")
SOURCE_FOLDERS = ("tests", "benchmarks", NAMESPACE)
# The MCP server (the [mcp] extra), imported by nothing but its command, and that one lazily.
MCP_ROOM = "qwen_gui_agent.agent.mcp"
MCP_COMMAND = "qwen_gui_agent.agent.commands.mcp"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE_ROOT.rglob("*.py"))}


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
    offenders = [
        line
        for folder in SOURCE_FOLDERS
        for path in sorted((REPO / folder).rglob("*.py"))
        for line in bare_imports(path)
    ]
    assert offenders == []


def test_every_package_folder_is_a_package() -> None:
    """setuptools' find (pyproject) installs only folders with an ``__init__.py``: a folder without one drops out."""
    folders = {path.parent for path in PACKAGE_ROOT.rglob("*.py") if "__pycache__" not in path.parts}
    assert sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file()) == []


def absolute_self_imports(path: Path) -> list[str]:
    """Imports of the package by its own name from inside it: a reader (and a layout viewer) follows relative ones."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        found += [f"{path}:{node.lineno}: {name}" for name in names if name.split(".")[0] == NAMESPACE]
    return found


def test_absolute_self_import_finder_sees_one(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text("import os\nfrom .tools import actions\nfrom qwen_gui_agent.tools.actions import Click\n")
    assert [line.rsplit(": ", 1)[1] for line in absolute_self_imports(source)] == ["qwen_gui_agent.tools.actions"]


def test_the_package_imports_itself_relatively() -> None:
    offenders = [line for path in sorted(PACKAGE_ROOT.rglob("*.py")) for line in absolute_self_imports(path)]
    assert offenders == []


@pytest.mark.parametrize("name", sorted(project_modules()))
def test_module_is_small(name: str) -> None:
    lines = project_modules()[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it by concern"


def test_fast_path_is_imported_only_by_the_local_backend() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if not module.startswith(LOCAL)
        for target in targets
        if target.startswith(FASTPATH)
    )
    assert outside == []


def test_mcp_room_is_imported_only_by_its_command() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if not module.startswith(MCP_ROOM) and module != MCP_COMMAND
        for target in targets
        if target.startswith(MCP_ROOM)
    )
    assert outside == []


TEST_HELPER_FOLDERS = {"support", "layout", "golden"}  # shared helpers, the layout checks themselves, data


def test_tests_mirror_the_package_folders() -> None:
    """tests/agent/backends/openai/ holds the tests of qwen_gui_agent/agent/backends/openai/, and so on."""
    tests = REPO / "tests"
    unmatched = sorted(
        str(folder.relative_to(REPO))
        for folder in tests.rglob("*")
        if folder.is_dir()
        and folder.name != "__pycache__"
        and not TEST_HELPER_FOLDERS & set(folder.relative_to(tests).parts)
        and not (PACKAGE_ROOT / folder.relative_to(tests)).is_dir()
    )
    assert unmatched == []
