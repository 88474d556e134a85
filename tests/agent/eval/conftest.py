from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL on disk (tests/support/tiny_qwen.py), built once per test session."""
    pytest.importorskip("torch")
    from tests.support.tiny_qwen import tiny_qwen_for_session

    return tiny_qwen_for_session(tmp_path_factory)
