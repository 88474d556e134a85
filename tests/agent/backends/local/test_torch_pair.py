"""A torch and torchvision that cannot work together are named in one line, with the install line that fixes it.

The installs are what pip leaves behind: a ``torchvision-*.dist-info`` ahead of the real one on the path
(a mismatched release or build), or a torchvision whose import fails as a mismatched one does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.local.torch_pair import PINNED, pair_problem
from tests.support.cli import AGENT_COMMAND, REPO
from tests.support.make_grounding_set import make_screenspot


@pytest.mark.parametrize(
    ("torch", "torchvision", "machine", "system", "says"),
    [
        ("2.14.1", "0.29.1", "x86_64", "linux", None),
        ("2.14.1+cpu", "0.29.1+cpu", "x86_64", "linux", None),
        ("2.14.1", "0.29.1+cu130", "x86_64", "linux", None),  # PyPI's Linux torch is a CUDA build too
        ("2.14.1", "0.29.1", "arm64", "darwin", None),
        ("2.14.1+cpu", "0.29.1", "x86_64", "linux", "a CPU build and torchvision 0.29.1 a CUDA build"),
        ("2.14.1+cu130", "0.29.1+cpu", "x86_64", "linux", "a CUDA build and torchvision 0.29.1+cpu a CPU build"),
        ("2.15.0", "0.29.1", "x86_64", "linux", "torchvision 0.29.1 goes with torch 2.14"),
        ("2.13.0+cpu", "0.29.1+cpu", "x86_64", "linux", "from different releases"),
    ],
)
def test_which_pairs_work_together(torch: str, torchvision: str, machine: str, system: str, says: str | None) -> None:
    problem = pair_problem(torch, torchvision, machine=machine, system=system)
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem
        assert f"pip install 'torch=={PINNED[0]}' 'torchvision=={PINNED[1]}'" in problem
        assert "--index-url https://download.pytorch.org/whl/cpu" in problem


def installed(folder: Path, version: str, *, import_error: str | None = None) -> Path:
    """A torchvision as pip installs it (its dist-info, and the package if ``import_error`` is given)."""
    info = folder / f"torchvision-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: torchvision\nVersion: {version}\n", encoding="utf-8")
    if import_error is not None:
        (folder / "torchvision").mkdir()
        (folder / "torchvision" / "__init__.py").write_text(f"raise RuntimeError({import_error!r})\n", encoding="utf-8")
    return folder


def environment(extra_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AGENT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(extra_path), str(REPO)])
    return env


def eval_with_local_model(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    make_screenspot(tmp_path / "data")
    return subprocess.run(
        [
            *AGENT_COMMAND,
            "eval",
            "grounding",
            str(tmp_path / "data"),
            "--backend",
            "local",
            "--model",
            "3b",
            "-o",
            str(tmp_path / "out"),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_local_backend_names_a_mismatched_release_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = eval_with_local_model(tmp_path, environment(installed(tmp_path / "site", "0.28.0")))
    assert result.returncode == 1
    assert "torchvision 0.28.0 goes with torch 2.13" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 4, result.stderr


def test_the_local_backend_names_a_torchvision_that_does_not_load(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    release = torch.__version__.split("+")[0]
    paired = f"0.{int(release.split('.')[1]) + 15}.0"
    site = installed(tmp_path / "site", paired, import_error="operator torchvision::nms does not exist")
    result = eval_with_local_model(tmp_path, environment(site))
    assert result.returncode == 1
    assert (
        f"torchvision {paired} does not load with torch" in result.stderr
        and "RuntimeError: operator torchvision::nms does not exist" in result.stderr
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_pytest_stops_at_once_naming_the_pair(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/tools/test_key_names.py"],
        env=environment(installed(tmp_path / "site", "0.28.0")),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 4
    assert "cannot run the tests: torch" in result.stdout + result.stderr
    assert "torchvision 0.28.0 goes with torch 2.13" in result.stdout + result.stderr
