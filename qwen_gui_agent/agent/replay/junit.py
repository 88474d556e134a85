"""A replay check as JUnit XML: one testcase per recorded step.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) read this format
and show each failed step with its recorded-versus-now message.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .check import ReplayResult

# XML 1.0 cannot carry most control characters, even escaped; a model's answer may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def junit_xml(result: ReplayResult) -> str:
    info = result.run.info
    suite_name = f"replay {info.run_id}"
    checks = result.checks
    suite = ET.Element(
        "testsuite",
        name=_clean(suite_name),
        tests=str(len(checks)),
        failures=str(len(result.failures)),
        errors="0",
        skipped=str(sum(1 for check in checks if check.skipped and check.passed)),
        time=f"{sum(check.elapsed_s for check in checks):.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("task", info.task),
        ("dialect", info.dialect),
        ("status", info.status),
        ("truncated", str(result.run.truncated).lower()),
        ("directory", str(result.run.directory)),
    ):
        ET.SubElement(properties, "property", name=name, value=_clean(value))
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_clean(f"replay.{info.run_id}"),
            name=_clean(f"step {check.index:03d} ({check.kind}): {check.summary[:160]}"),
            time=f"{check.elapsed_s:.3f}",
        )
        if check.problems:
            first = check.problems[0].splitlines()[0]
            failure = ET.SubElement(case, "failure", message=_clean(first), type="ReplayMismatch")
            failure.text = _clean("\n\n".join(check.problems))
        elif check.skipped:
            ET.SubElement(case, "skipped", message=_clean(check.skipped))
        if check.caveat:
            ET.SubElement(case, "system-out").text = _clean(f"not compared: {check.caveat}")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_junit(result: ReplayResult, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(result), encoding="utf-8")
    return path
