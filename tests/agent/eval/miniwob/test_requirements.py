"""What the benchmark needs, found or named in one line with the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qwen_gui_agent.agent.eval.miniwob.requirements import BenchmarkUnavailable, check_x_tools, find_browser


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_variables_name_the_binaries(tmp_path: Path) -> None:
    chrome, driver = executable(tmp_path / "my-chrome"), executable(tmp_path / "my-driver")
    found = find_browser({"MINIWOB_CHROME_BINARY": str(chrome), "MINIWOB_CHROMEDRIVER": str(driver)})
    assert (found.chrome, found.chromedriver) == (str(chrome), str(driver))


def test_chromium_is_found_on_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executable(tmp_path / "chromium")
    executable(tmp_path / "chromedriver")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser({}).chrome == str(tmp_path / "chromium")


def test_missing_chromium_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BenchmarkUnavailable) as caught:
        find_browser({})
    message = str(caught.value)
    assert "apt-get install chromium chromium-driver" in message and "\n" not in message


def test_a_variable_naming_nothing_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkUnavailable, match="MINIWOB_CHROMEDRIVER=.*is not an executable"):
        find_browser({"MINIWOB_CHROMEDRIVER": str(tmp_path / "nothing-here")})


def test_missing_x_tools_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BenchmarkUnavailable, match="apt-get install xdotool xvfb"):
        check_x_tools(start_displays=True)
    executable(tmp_path / "xdotool")
    check_x_tools(start_displays=False)  # displays the user names need no Xvfb
    assert os.environ["PATH"] == str(tmp_path)
