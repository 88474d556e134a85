"""Model settings from flags, the task file, the environment and defaults (in that order)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qwen_gui_agent.agent.backends.settings import DEFAULT_BASE_URL, DEFAULT_MODEL
from qwen_gui_agent.agent.commands.model_options import (
    BackendOption,
    BaseUrlOption,
    CoordsOption,
    FastOption,
    MaxPixelsOption,
    ModelFlags,
    ModelOption,
    parse_pixels,
)
from qwen_gui_agent.agent.commands.model_settings import ModelOptionError, resolve_model_settings
from qwen_gui_agent.tools.models import model_setup


def test_defaults_with_nothing_given() -> None:
    choice = resolve_model_settings(environ={})
    assert choice.settings.kind == "local"
    assert choice.settings.model == DEFAULT_MODEL
    assert choice.settings.max_pixels == 1280 * 28 * 28
    assert (choice.dialect, choice.coordinates) == ("qwen", "absolute")
    assert choice.origins == {}


def test_flag_beats_task_beats_environment_beats_default() -> None:
    environ = {
        "AGENT_MODEL": "3b",
        "AGENT_MAX_PIXELS": "1000*28*28",
        "AGENT_MAX_NEW_TOKENS": "64",
        "AGENT_TEMPERATURE": "0.5",
    }
    task = {"model": "32b", "max_pixels": 2000 * 28 * 28}
    choice = resolve_model_settings(ModelFlags(model="7b"), environ=environ, task=task)
    settings = choice.settings
    assert settings.model == "Qwen/Qwen2.5-VL-7B-Instruct"  # flag
    assert settings.max_pixels == 2000 * 28 * 28  # task over environment
    assert settings.max_new_tokens == 64  # environment over default
    assert settings.temperature == 0.5
    assert settings.min_pixels == 4 * 28 * 28  # default
    assert choice.origins["model"] == "--model"
    assert choice.origins["max_pixels"] == "the task file's model.max_pixels"
    assert choice.origins["max_new_tokens"] == "AGENT_MAX_NEW_TOKENS"
    assert "min_pixels" not in choice.origins


def test_every_environment_variable_is_read() -> None:
    environ = {
        "AGENT_BACKEND": "openai",
        "AGENT_MODEL": "served",
        "AGENT_BASE_URL": "http://gpu:9000/v1",
        "AGENT_MIN_PIXELS": "8*28*28",
        "AGENT_MAX_PIXELS": "1003520",
        "AGENT_DIALECT": "uitars",
        "AGENT_COORDS": "relative",
        "AGENT_MAX_NEW_TOKENS": "100",
        "AGENT_SOURCE": "modelscope",
        "AGENT_TEMPERATURE": "0.2",
        "AGENT_REQUEST_TIMEOUT": "9.5",
        "AGENT_MAX_RETRIES": "7",
        "AGENT_IMAGE_FORMAT": "jpeg",
        "AGENT_JPEG_QUALITY": "70",
        "AGENT_TORCH_DEVICE": "cuda:1",
        "AGENT_FAST": "off",
    }
    choice = resolve_model_settings(environ=environ)
    s = choice.settings
    assert (s.kind, s.model, s.base_url) == ("openai", "served", "http://gpu:9000/v1")
    assert (s.min_pixels, s.max_pixels, s.max_new_tokens) == (8 * 28 * 28, 1003520, 100)
    assert (s.source, s.temperature, s.timeout_s, s.max_retries) == ("modelscope", 0.2, 9.5, 7)
    assert (s.image_format, s.jpeg_quality, s.torch_device, s.fast) == ("jpeg", 70, "cuda:1", False)
    assert (choice.dialect, choice.coordinates) == ("uitars", "relative")


def test_flags_override_every_environment_variable() -> None:
    environ = {"AGENT_BACKEND": "local", "AGENT_DIALECT": "uitars", "AGENT_COORDS": "relative", "AGENT_FAST": "1"}
    choice = resolve_model_settings(
        ModelFlags(backend="openai", dialect="qwen", coords="absolute", fast=False), environ=environ
    )
    assert (choice.settings.kind, choice.dialect, choice.coordinates, choice.settings.fast) == (
        "openai",
        "qwen",
        "absolute",
        False,
    )


@pytest.mark.parametrize(
    ("given", "kind"),
    [({"script": Path("run")}, "scripted"), ({"base_url": "http://h/v1"}, "openai"), ({}, "local")],
)
def test_backend_inferred_from_what_was_given(given: dict, kind: str) -> None:
    assert resolve_model_settings(ModelFlags(**given), environ={}).settings.kind == kind


def test_backend_inferred_from_environment_base_url() -> None:
    assert resolve_model_settings(environ={"AGENT_BASE_URL": "http://h/v1"}).settings.kind == "openai"


@pytest.mark.parametrize(
    ("model", "dialect", "coordinates"),
    [
        ("7b", "qwen", "absolute"),
        ("ui-tars-1.5-7b", "uitars", "absolute"),
        ("bytedance-research/UI-TARS-7B-DPO", "uitars", "relative"),
        ("Qwen/Qwen2-VL-7B-Instruct", "qwen", "relative"),
        ("/models/my-uitars-1.5-sft", "uitars", "absolute"),
        ("Qwen/Qwen3-VL-8B-Instruct", "qwen3", "relative"),
        ("Qwen/Qwen3.5-27B", "qwen3.5", "relative"),
        ("mPLUG/GUI-Owl-1.5-8B-Instruct", "guiowl", "relative"),
    ],
)
def test_dialect_and_coordinates_default_from_the_model_name(model: str, dialect: str, coordinates: str) -> None:
    choice = resolve_model_settings(ModelFlags(model=model), environ={})
    assert (choice.dialect, choice.coordinates) == (dialect, coordinates)
    assert model_setup(model).coordinates == coordinates  # the one rule the API and eval read too


def test_a_qwen3_model_brings_its_frame_and_flags_still_win() -> None:
    choice = resolve_model_settings(ModelFlags(model="Qwen/Qwen3-VL-8B-Instruct"), environ={})
    assert choice.match is not None and choice.match.family.name == "qwen3-vl"
    assert choice.settings.patch_factor == 32 and choice.settings.max_pixels == 1280 * 32 * 32
    overridden = resolve_model_settings(
        ModelFlags(model="Qwen/Qwen3-VL-8B-Instruct", dialect="uitars", coords="absolute", max_pixels=1000 * 32 * 32),
        environ={},
    )
    assert (overridden.dialect, overridden.coordinates) == ("uitars", "absolute")
    assert overridden.settings.max_pixels == 1000 * 32 * 32 and overridden.settings.patch_factor == 32


def test_an_unknown_model_warns_naming_dialect_and_falls_back_to_qwen25(caplog) -> None:
    with caplog.at_level("WARNING"):
        choice = resolve_model_settings(ModelFlags(backend="openai", model="my-served-model"), environ={})
    assert choice.match is None and (choice.dialect, choice.coordinates) == ("qwen", "absolute")
    assert choice.settings.patch_factor == 28
    [record] = [r for r in caplog.records if "my-served-model" in r.getMessage()]
    assert "--dialect" in record.getMessage() and "qwen3" in record.getMessage()


def test_an_unknown_model_named_with_a_dialect_gets_that_dialects_frame(caplog) -> None:
    # A Qwen3-VL served under its own name: --dialect qwen3 alone brings thousandths and factor 32.
    with caplog.at_level("WARNING"):
        choice = resolve_model_settings(
            ModelFlags(backend="openai", model="my-served-model", dialect="qwen3"), environ={}
        )
    assert not [r for r in caplog.records if "my-served-model" in r.getMessage()]
    assert (choice.dialect, choice.coordinates) == ("qwen3", "relative")
    assert choice.settings.patch_factor == 32 and choice.settings.max_pixels == 1280 * 32 * 32


def test_api_key_from_the_named_variable_only_for_openai() -> None:
    environ = {"MY_KEY": "sk-abc", "AGENT_API_KEY": "sk-default"}
    choice = resolve_model_settings(ModelFlags(base_url="http://h/v1", api_key_env="MY_KEY"), environ=environ)
    assert choice.settings.api_key.get_secret_value() == "sk-abc"
    default = resolve_model_settings(ModelFlags(base_url="http://h/v1"), environ=environ)
    assert default.settings.api_key.get_secret_value() == "sk-default"
    assert resolve_model_settings(environ=environ).settings.api_key is None  # local backend: no key
    assert "sk-" not in str(choice.public_dict())


def test_named_api_key_variable_missing_is_an_error() -> None:
    with pytest.raises(ModelOptionError, match="DASHSCOPE_API_KEY .*--api-key-env.* is not set"):
        resolve_model_settings(ModelFlags(backend="openai", api_key_env="DASHSCOPE_API_KEY"), environ={})


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ModelOptionError, match="AGENT_MAX_NEW_TOKENS='many'"):
        resolve_model_settings(environ={"AGENT_MAX_NEW_TOKENS": "many"})
    with pytest.raises(ModelOptionError, match="AGENT_FAST='maybe'"):
        resolve_model_settings(environ={"AGENT_FAST": "maybe"})


def test_invalid_values_name_where_they_came_from() -> None:
    with pytest.raises(ModelOptionError, match="AGENT_BACKEND"):
        resolve_model_settings(environ={"AGENT_BACKEND": "gpt"})
    with pytest.raises(ModelOptionError, match="--torch-device"):
        resolve_model_settings(ModelFlags(torch_device="tpu"), environ={})
    with pytest.raises(ModelOptionError, match="model.jpeg_quality"):
        resolve_model_settings(environ={}, task={"jpeg_quality": 500})


def test_unknown_task_keys_are_rejected() -> None:
    with pytest.raises(ModelOptionError, match="max_pixles"):
        resolve_model_settings(environ={}, task={"max_pixles": 5})


def test_blank_environment_values_count_as_unset() -> None:
    assert resolve_model_settings(environ={"AGENT_MODEL": "  "}).settings.model == DEFAULT_MODEL


def test_parse_pixels() -> None:
    assert parse_pixels("1280*28*28") == 1003520
    assert parse_pixels("1003520") == 1003520
    assert parse_pixels("1920x1080") == 1920 * 1080
    with pytest.raises(ValueError):
        parse_pixels("lots")


def make_app(seen: list) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def ask(
        backend: BackendOption = None,
        model: ModelOption = None,
        base_url: BaseUrlOption = None,
        max_pixels: MaxPixelsOption = None,
        coords: CoordsOption = None,
        fast: FastOption = None,
    ) -> None:
        seen.append(
            resolve_model_settings(
                ModelFlags(
                    backend=backend, model=model, base_url=base_url, max_pixels=max_pixels, coords=coords, fast=fast
                ),
                environ={"AGENT_MODEL": "3b"},
            )
        )

    return app


def test_option_aliases_in_a_real_command() -> None:
    seen: list = []
    result = CliRunner().invoke(
        make_app(seen),
        ["--base-url", "http://h:1/v1", "--max-pixels", "1000*28*28", "--no-fast", "--coords", "relative"],
    )
    assert result.exit_code == 0, result.output
    (choice,) = seen
    assert choice.settings.kind == "openai"
    assert choice.settings.model == "Qwen/Qwen2.5-VL-3B-Instruct"  # from the environment
    assert choice.settings.max_pixels == 1000 * 28 * 28
    assert choice.settings.fast is False
    assert choice.coordinates == "relative"
    assert choice.settings.base_url == DEFAULT_BASE_URL.replace("127.0.0.1:8000", "h:1")


def test_option_aliases_reject_bad_values() -> None:
    seen: list = []
    result = CliRunner().invoke(make_app(seen), ["--backend", "gpt"])
    assert result.exit_code == 2
    result = CliRunner().invoke(make_app(seen), ["--max-pixels", "huge"])
    assert result.exit_code == 2
    assert seen == []
