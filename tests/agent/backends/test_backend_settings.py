from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from qwen_gui_agent.agent.backends import BackendSettings

SECRET = "sk-very-secret-value"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("7b", "Qwen/Qwen2.5-VL-7B-Instruct"),
        ("3B", "Qwen/Qwen2.5-VL-3B-Instruct"),
        ("32b", "Qwen/Qwen2.5-VL-32B-Instruct"),
        ("72b", "Qwen/Qwen2.5-VL-72B-Instruct"),
        ("UI-TARS-1.5-7B", "ByteDance-Seed/UI-TARS-1.5-7B"),
        ("/models/qwen", "/models/qwen"),
        ("my-served-name", "my-served-name"),
    ],
)
def test_short_model_names(given: str, resolved: str) -> None:
    assert BackendSettings(model=given).model == resolved


def test_api_key_stays_out_of_repr_and_public_dict() -> None:
    settings = BackendSettings(kind="openai", api_key=SecretStr(SECRET))
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.public_dict())
    assert "api_key" not in settings.public_dict()
    assert settings.public_dict()["api_key_set"] is True
    assert BackendSettings().public_dict()["api_key_set"] is False


def test_public_dict_is_plain_json_data() -> None:
    data = BackendSettings(kind="scripted", script=Path("/runs/one")).public_dict()
    assert data["script"] == "/runs/one"
    assert BackendSettings(kind="scripted", script=("a", "b")).public_dict()["script"] == "2 answers"


@pytest.mark.parametrize(
    "changes",
    [
        {"min_pixels": 10_000, "max_pixels": 5_000},
        {"torch_device": "tpu"},
        {"temperature": -1},
        {"jpeg_quality": 0},
        {"kind": "gpt"},
        {"model": "  "},
        {"unknown_field": 1},
    ],
)
def test_invalid_settings_are_rejected(changes: dict) -> None:
    with pytest.raises(ValidationError):
        BackendSettings(**changes)


def test_settings_are_frozen() -> None:
    settings = BackendSettings()
    with pytest.raises(ValidationError):
        settings.model = "other"  # type: ignore[misc]


def test_base_url_trailing_slash_dropped() -> None:
    assert BackendSettings(base_url="http://host:8000/v1/").base_url == "http://host:8000/v1"
