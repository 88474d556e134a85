"""The device docs name the environment variables the CLI really reads (a wrong name is silently ignored)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qwen_gui_agent.agent.commands import device_options as device_cli
from qwen_gui_agent.agent.commands import emulator as emulator_cli

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOT_READ_BY_THE_CLI: set[str] = set()


def read_by_the_cli() -> set[str]:
    device_variables = {
        value for name, value in vars(device_cli).items() if name.startswith("ENV_") and isinstance(value, str)
    }
    return device_variables | set(emulator_cli.SDK_VARIABLES)


@pytest.mark.parametrize("page", ["android.md", "devices.md"])
def test_every_environment_variable_in_the_device_docs_is_read_by_the_cli(page: str) -> None:
    named = set(re.findall(r"\b(?:ANDROID|AGENT)_[A-Z_]+\b", (DOCS / page).read_text(encoding="utf-8")))
    assert named, f"{page} names no variables: the pattern is wrong"
    assert named - NOT_READ_BY_THE_CLI <= read_by_the_cli(), sorted(named - NOT_READ_BY_THE_CLI - read_by_the_cli())


def test_the_adb_server_variable_is_the_one_adb_reads() -> None:
    assert device_cli.ENV_ADB_HOST == "ANDROID_ADB_SERVER_ADDRESS"
