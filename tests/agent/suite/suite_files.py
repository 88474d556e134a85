"""Helpers for the suite tests: task files with their own scripts, and reading what a suite wrote."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml


def write_task(folder: Path, name: str, answers: list[str], *, max_steps: int | None = None) -> Path:
    """A task file whose scripted model plays ``answers`` (uitars dialect).

    The script lies in ``scripts/`` beside the task folder (a suite runs every YAML file of that folder) and is
    named relative to the folder above both, where the tests start the agent: a task file may not
    name files elsewhere.
    """
    scripts = folder.parent / "scripts"
    scripts.mkdir(exist_ok=True)
    (scripts / f"{name}.yaml").write_text(yaml.safe_dump(answers), encoding="utf-8")
    task: dict[str, Any] = {
        "name": name,
        "model": {"backend": "scripted", "script": f"scripts/{name}.yaml", "dialect": "uitars"},
        "steps": [{"ai": f"do {name}"}],
    }
    if max_steps is not None:
        task["max_steps"] = max_steps
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(task), encoding="utf-8")
    return path


def clicks(*points: tuple[int, int], finish: bool = True) -> list[str]:
    answers = [f"Thought: step {n}\nAction: click(start_box='({x},{y})')" for n, (x, y) in enumerate(points)]
    return answers + (["Thought: done\nAction: finished(content='done')"] if finish else [])


def only_suite_dir(out: Path) -> Path:
    (suite_dir,) = [path for path in out.iterdir() if path.is_dir() and path.name.endswith("-suite")]
    return suite_dir


def read_suite(suite_dir: Path) -> dict[str, Any]:
    return json.loads((suite_dir / "suite.json").read_text(encoding="utf-8"))


def by_task(suite: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["task"]: entry for entry in suite["tasks"]}


def junit(suite_dir: Path) -> tuple[ET.Element, list[ET.Element]]:
    root = ET.parse(suite_dir / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    return suite, suite.findall("testcase")


def case_kinds(cases: list[ET.Element]) -> dict[str, str]:
    """task file stem -> passed / failure / error / skipped."""
    kinds = {}
    for case in cases:
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        kinds[case.get("classname", "").removeprefix("suite.")] = outcome
    return kinds


def run_json(run_dir: str) -> dict[str, Any]:
    return json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))


def steps(run_dir: str) -> list[dict[str, Any]]:
    lines = (Path(run_dir) / "steps.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
