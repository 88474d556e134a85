"""Recorded runs in both dialects whose prompts went through the real local backend, and ms-swift's template.

The tiny random Qwen2.5-VL here has its special tokens at the real ids (ms-swift's qwen2_5_vl
template hard-codes <|image_pad|> = 151655). Each run is a real agent run (loop, session, dialect,
recorder) on an in-memory screen; the backend preprocesses every prompt with the real local backend
and keeps what it would have sent, and answers from a script.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from qwen_gui_agent.agent.backends.scripted import ScriptedBackend
from qwen_gui_agent.agent.backends.settings import BackendSettings
from qwen_gui_agent.agent.runtime.runner import RunParts, execute_run
from qwen_gui_agent.agent.runtime.secrets import Secrets
from qwen_gui_agent.agent.runtime.session import LoopSettings
from qwen_gui_agent.tasks.schema import AiStep, TapStep, Task
from qwen_gui_agent.tools.dialects import get_dialect
from qwen_gui_agent.tools.frames import SERVING_MAX_PIXELS, FrameBounds
from tests.support.doubles import CollectedEvents, MemoryDevice
from tests.support.prompt_capture import LocalPromptsScriptedAnswers, SentInputs

SCREEN = (300, 200)  # not a multiple of 28: the agent's resize to the 308x196 frame is real
GOAL = "open the menu and type hello world"
QUERY = "the blue Save button"

ANSWERS = {
    "uitars": [
        "Thought: The menu is at the top left.\nAction: click(start_box='(40,30)')",
        "I am not sure what to do here.",  # a parse error: fed back, then skipped by the export
        "Thought: Type the name.\nAction: type(content='hello world')",
        "Thought: More below.\nAction: scroll(start_box='(150,100)', direction='down')",
        "Thought: It is done.\nAction: finished(content='done')",
        "(120,80)",  # the tap's grounding answer
    ],
    "qwen": [
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [40, 30]}}\n'
        "</tool_call>",
        "no idea",
        'I will type it.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "type", '
        '"text": "hello world"}}\n</tool_call>',
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n'
        "</tool_call>",
        '[{"bbox_2d": [100, 60, 140, 100], "label": "Save"}]',
    ],
}
HISTORY_IMAGES = {
    "uitars": None,
    "qwen": 2,
    "qwen3": None,
}  # uitars: its default window (5); qwen: one earlier screenshot


@dataclass(frozen=True)
class RecordedWithInputs:
    run_dir: Path
    dialect: str
    sent: list[SentInputs]  # what the local backend fed the model, one per model call (= per ai/tap step)


@pytest.fixture
def scripted_run(tmp_path: Path):
    """A fresh run recorded with scripted answers (a test may damage it): ``scripted_run(dialect)``."""
    return lambda dialect="uitars", **kwargs: record(None, tmp_path / "runs", dialect, **kwargs).run_dir


@pytest.fixture(scope="session")
def swift_tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_qwen import TinyQwenSpec, save_tiny_qwen

    target = Path(tmp_path_factory.getbasetemp()) / "tiny-qwen-swift"
    if not target.is_dir():
        save_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen-swift-build"), TinyQwenSpec(first_special_id=151643)).rename(
            target
        )
    return target


@pytest.fixture(scope="session")
def local_backend(swift_tiny: Path):
    from qwen_gui_agent.agent.backends.local.backend import LocalBackend

    backend = LocalBackend(
        BackendSettings(kind="local", model=str(swift_tiny), torch_device="cpu", max_pixels=SERVING_MAX_PIXELS)
    )
    yield backend
    backend.close()


def record(
    local_backend, out_dir: Path, dialect: str, answers: list[str] | None = None, history_images: int | None = None
) -> RecordedWithInputs:
    """A run of the goal and the tap; ``local_backend`` None: scripted answers only (no torch needed)."""
    answers = answers or ANSWERS[dialect]
    backend = LocalPromptsScriptedAnswers(local_backend, answers) if local_backend else ScriptedBackend(answers)
    task = Task(name=GOAL, steps=[AiStep(ai=GOAL), TapStep(tap=QUERY)])
    parts = RunParts(
        task=task,
        device=MemoryDevice(*SCREEN),
        backend=backend,
        dialect=get_dialect(dialect),
        settings=LoopSettings(
            settle_s=0.0,
            frame=FrameBounds(max_pixels=SERVING_MAX_PIXELS),
            image_history=history_images or HISTORY_IMAGES[dialect],
        ),
        events=CollectedEvents(),
        out_dir=out_dir,
        secrets=Secrets(),
        write_report=False,
    )
    result = execute_run(parts)
    assert result.status == "success", result.message
    return RecordedWithInputs(run_dir=result.run_dir, dialect=dialect, sent=getattr(backend, "sent", []))


@pytest.fixture(scope="session")
def recorded_runs(local_backend, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RecordedWithInputs]:
    out = tmp_path_factory.mktemp("runs")
    return {dialect: record(local_backend, out / dialect, dialect) for dialect in ("uitars", "qwen")}


@pytest.fixture(scope="session")
def swift_template(swift_tiny: Path):
    """ms-swift's own qwen2_5_vl template for the tiny model, in training mode; grounding boxes as JSON lists."""
    pytest.importorskip("swift", reason="the ms-swift tests need the train extra: pip install -e '.[train]'")
    previous = os.environ.get("QWENVL_BBOX_FORMAT")
    os.environ["QWENVL_BBOX_FORMAT"] = "new"  # read when the template is built, as `swift sft` would
    try:
        from swift.model import get_processor
        from swift.template import get_template

        template = get_template(get_processor(str(swift_tiny), model_type="qwen2_5_vl"), template_type="qwen2_5_vl")
        template.set_mode("train")
    finally:
        if previous is None:
            os.environ.pop("QWENVL_BBOX_FORMAT", None)
        else:
            os.environ["QWENVL_BBOX_FORMAT"] = previous
    return template
