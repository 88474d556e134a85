"""What the MiniWoB++ benchmark needs beyond the core package, each found or named with its fix.

The Python packages come with the ``[bench]`` extra (miniwob, which brings gymnasium, and
selenium); Chromium and its driver come from the system (Debian: ``apt-get install chromium
chromium-driver``); Xvfb and xdotool drive the display. ``MINIWOB_CHROME_BINARY`` and
``MINIWOB_CHROMEDRIVER`` (the variables the miniwob package reads) name other binaries.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Mapping
from dataclasses import dataclass

CHROME_ENV = "MINIWOB_CHROME_BINARY"
CHROMEDRIVER_ENV = "MINIWOB_CHROMEDRIVER"
CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
APT_FIX = "apt-get install chromium chromium-driver (Debian/Ubuntu)"
PIP_FIX = "pip install -e '.[bench]' (miniwob, selenium)"


class BenchmarkUnavailable(RuntimeError):
    """Something the benchmark needs is missing; the message names it and the fix, on one line."""


@dataclass(frozen=True)
class BrowserBinaries:
    chrome: str
    chromedriver: str


def check_packages() -> None:
    """The ``[bench]`` extra's packages are importable."""
    missing = [name for name in ("miniwob", "selenium", "gymnasium") if importlib.util.find_spec(name) is None]
    if missing:
        raise BenchmarkUnavailable(f"the Python package(s) {', '.join(missing)} are not installed: {PIP_FIX}")


def find_browser(environ: Mapping[str, str]) -> BrowserBinaries:
    """Chromium and chromedriver: the variables' paths when set, else found on PATH."""
    chrome = _named_or_found(environ, CHROME_ENV, CHROME_NAMES, "Chromium")
    driver = _named_or_found(environ, CHROMEDRIVER_ENV, ("chromedriver",), "chromedriver")
    return BrowserBinaries(chrome=chrome, chromedriver=driver)


def check_x_tools(*, start_displays: bool) -> None:
    """xdotool (the desktop device's input on another display), and Xvfb when we start the displays."""
    needed = ["xdotool", *(["Xvfb"] if start_displays else [])]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    if missing:
        raise BenchmarkUnavailable(
            f"{' and '.join(missing)} not installed: apt-get install "
            + " ".join("xvfb" if tool == "Xvfb" else tool for tool in missing)
        )


def _named_or_found(environ: Mapping[str, str], variable: str, names: tuple[str, ...], what: str) -> str:
    named = environ.get(variable, "").strip()
    if named:
        found = shutil.which(named)
        if found is None:
            raise BenchmarkUnavailable(
                f"{variable}={named} is not an executable file: point it at {what}, or unset it and {APT_FIX}"
            )
        return found
    for name in names:
        found = shutil.which(name)
        if found is not None:
            return found
    raise BenchmarkUnavailable(f"{what} is not installed: {APT_FIX}, or set {variable} to its path")
