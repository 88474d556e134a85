from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.model_server import ModelServer


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2.5-VL on disk, built once per test session."""
    pytest.importorskip("torch")
    from tests.support.tiny_qwen import tiny_qwen_for_session

    return tiny_qwen_for_session(tmp_path_factory)


@pytest.fixture(scope="session")
def local_backend(tiny_qwen_dir: Path):
    """The local backend on the tiny model, loaded once through the real from_pretrained path."""
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend

    settings = BackendSettings(
        kind="local", model=str(tiny_qwen_dir), source="local", torch_device="cpu", max_new_tokens=12
    )
    backend = create_backend(settings)
    yield backend
    backend.close()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer() as server:
        yield server
