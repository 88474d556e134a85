"""Tests never time the code they test: speed goals live in benchmarks, where a loaded machine cannot fail them.

``time.perf_counter`` is the stopwatch; a test module that reads it is measuring speed (waiting for
something with a generous deadline uses ``time.monotonic``). Benchmarks (``bench_*.py``, ``benchmarks/``)
may time what they like.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _stopwatch_calls(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
        if name in ("perf_counter", "perf_counter_ns", "process_time"):
            lines.append(node.lineno)
    return lines


def test_no_test_module_reads_a_stopwatch() -> None:
    found = {
        str(path.relative_to(REPO)): lines
        for path in sorted((REPO / "tests").rglob("test_*.py"))
        if (lines := _stopwatch_calls(path))
    }
    assert not found, f"tests that time the code (move the speed goal to a benchmark): {found}"
