"""The local backend's phase timings reach a step's record under the names docs/backends.md gives them.

The openai backend's side is checked end to end in test_transformers_serve.py (a real run's
steps.jsonl); here the tiny Qwen2.5-VL answers for real on the CPU and the step's record is
filled by the function the run loop uses.
"""

from __future__ import annotations

from PIL import Image

from qwen_gui_agent.agent.runtime.context_fit import record_backend_facts
from qwen_gui_agent.tools.messages import Message


def test_local_phases_are_recorded_as_model_timings(local_backend) -> None:
    completion = local_backend.complete(
        [Message("user", ("Click OK.", Image.new("RGB", (812, 588), "white")))], max_new_tokens=3
    )
    timings_ms: dict[str, float] = {}
    serving: dict = {}
    record_backend_facts(timings_ms, serving, completion)
    assert set(timings_ms) == {"model_preprocess", "model_first_token", "model_decode", "model_total"}
    assert all(value >= 0 for value in timings_ms.values())
    assert timings_ms["model_total"] >= timings_ms["model_first_token"] + timings_ms["model_decode"]
    assert "preprocess" not in serving and "decode" not in serving  # times are timings, not serving facts
