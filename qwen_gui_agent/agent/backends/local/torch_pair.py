"""Whether the installed torch and torchvision work together, said in one line with the install line that fixes it.

torchvision's compiled operators are built against one torch release and one build (CPU, or a CUDA
version): torchvision 0.N goes with torch 2.(N-15) (0.29 with 2.14), and a CPU torch with a CUDA
torchvision (or the reverse) does not load. Mixed up, which pip allows (torchvision's metadata asks
only for a torch at least that old), every import of transformers' Qwen processors ends in a long
traceback ("operator torchvision::nms does not exist", an undefined symbol, a missing libcudart).
``pair_problem`` reads the installed versions (no import: cheap, for the tests' start too);
``torchvision_import_problem`` imports torchvision and turns a failure into one line.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys

# The pair .ci/run installs: a CUDA build from PyPI that also runs on the CPU.
PINNED = ("2.14.1", "0.29.1")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCHVISION_OFFSET = 15  # torchvision 0.N pairs with torch 2.(N - 15)


def install_lines() -> str:
    torch, torchvision = PINNED
    return (
        f"install a matching pair in one command: pip install 'torch=={torch}' 'torchvision=={torchvision}' "
        f"(PyPI; on Linux the CUDA build, which also runs on the CPU), or the CPU build (under 1 GB): "
        f"pip install 'torch=={torch}' 'torchvision=={torchvision}' --index-url {CPU_INDEX}"
    )


def installed_versions() -> tuple[str | None, str | None]:
    """(torch, torchvision) as pip installed them; None for one that is not installed."""
    versions: list[str | None] = []
    for name in ("torch", "torchvision"):
        try:
            versions.append(importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            versions.append(None)
    return versions[0], versions[1]


def pair_problem(
    torch: str | None = None, torchvision: str | None = None, *, machine: str | None = None, system: str | None = None
) -> str | None:
    """Why these versions cannot work together (the installed ones by default); None when they may.

    Nothing to say when either is missing: that is the missing extra's message, elsewhere.
    """
    if torch is None and torchvision is None:
        torch, torchvision = installed_versions()
    if torch is None or torchvision is None:
        return None
    release_t, _, build_t = torch.partition("+")
    release_v, _, build_v = torchvision.partition("+")
    paired = _paired_torch_minor(release_v)
    if paired is not None and _major_minor(release_t) not in (None, (2, paired)):
        return (
            f"torch {torch} and torchvision {torchvision} are from different releases (torchvision "
            f"{release_v} goes with torch 2.{paired}); {install_lines()}"
        )
    linux_x86 = (system or sys.platform).startswith("linux") and (machine or platform.machine()) in ("x86_64", "AMD64")
    # A build tag names the build; on Linux x86_64 PyPI's untagged wheels are CUDA builds.
    kind_t = _build_kind(build_t, linux_x86)
    kind_v = _build_kind(build_v, linux_x86)
    if kind_t and kind_v and kind_t != kind_v:
        return (
            f"torch {torch} is a {kind_t} build and torchvision {torchvision} a {kind_v} build{_pypi(build_t, build_v)}: "
            f"they do not load together; {install_lines()}"
        )
    return None


def torchvision_import_problem() -> str | None:
    """Import torchvision (torch is imported already); one line saying why it fails, or None when it loads."""
    try:
        import torchvision  # noqa: F401 - the import is the check: its compiled operators load against torch
    except ModuleNotFoundError as error:
        if error.name != "torchvision":
            return _import_failure(error)
        return (
            "torchvision is not installed (transformers' Qwen processors need it): "
            "pip install -e '.[local]', or " + install_lines()
        )
    except Exception as error:  # noqa: BLE001 - RuntimeError, OSError (a missing CUDA library), ImportError ...
        return _import_failure(error)
    return None


def _import_failure(error: BaseException) -> str:
    torch, torchvision = installed_versions()
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return (
        f"torchvision {torchvision or '?'} does not load with torch {torch or '?'} ({type(error).__name__}: "
        f"{first}); {install_lines()}"
    )


def _build_kind(tag: str, linux_x86: bool) -> str | None:
    """CPU, CUDA or ROCm from a local version tag (``cpu``, ``cu130``, ``rocm6.4``); None when it cannot tell."""
    if tag.startswith("cu"):
        return "CUDA"
    if tag.startswith("rocm"):
        return "ROCm"
    if tag == "cpu":
        return "CPU"
    return "CUDA" if not tag and linux_x86 else None


def _pypi(*tags: str) -> str:
    return " (PyPI's untagged Linux wheels are CUDA builds)" if not all(tags) else ""


def _major_minor(release: str) -> tuple[int, int] | None:
    parts = release.split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return int(parts[0]), int(parts[1])


def _paired_torch_minor(torchvision_release: str) -> int | None:
    version = _major_minor(torchvision_release)
    if version is None or version[0] != 0 or version[1] < TORCHVISION_OFFSET:
        return None
    return version[1] - TORCHVISION_OFFSET
