"""The local backend with the fast path on answers exactly as with it off (tiny model, CPU)."""

from __future__ import annotations

from pathlib import Path

from qwen_gui_agent.tools.messages import Message
from tests.agent.backends.local.conftest import noise_image


def test_fast_and_plain_local_backends_give_the_same_answer(tiny_dir: Path) -> None:
    from qwen_gui_agent.agent.backends import BackendSettings, create_backend

    messages = [
        Message.text("system", "You are a GUI agent."),
        Message(role="user", parts=(noise_image(420, 280, seed=7), "Click the search button.")),
    ]
    answers = {}
    for fast in (False, True):
        settings = BackendSettings(
            kind="local", model=str(tiny_dir), source="local", torch_device="cpu", max_new_tokens=10, fast=fast
        )
        backend = create_backend(settings)
        try:
            answers[fast] = backend.complete(messages)
        finally:
            backend.close()
    assert answers[True].text == answers[False].text
    assert answers[True].usage == answers[False].usage
    assert "vision" in answers[True].timings and "vision" not in answers[False].timings
