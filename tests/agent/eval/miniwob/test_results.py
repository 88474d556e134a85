"""Scores per task and overall, from episode records."""

from __future__ import annotations

from qwen_gui_agent.agent.eval.miniwob.results import summarize


def record(task: str, seed: int, success: bool, steps: int, seconds: float, raw: float | None = None) -> dict:
    raw = (1.0 if success else -1.0) if raw is None else raw
    return {
        "id": f"{task}/{seed}",
        "task": task,
        "seed": seed,
        "success": success,
        "raw_reward": raw,
        "reward": raw * 0.9,
        "steps": steps,
        "seconds": seconds,
    }


def test_rates_rewards_steps_and_time_per_step() -> None:
    records = [
        record("click-test", 0, True, 1, 0.5),
        record("click-test", 1, True, 1, 0.7),
        record("enter-text", 0, True, 3, 2.0),
        record("enter-text", 1, False, 5, 4.0),
        record("enter-text", 2, False, 15, 10.0, raw=0.0),
    ]  # the agent stopped: no reward
    summary = summarize(records, ["click-test", "enter-text", "drag-box"], {"click-test": ("click",)})
    click, enter, drag = (summary["tasks"][task] for task in ("click-test", "enter-text", "drag-box"))
    assert (click["episodes"], click["success_rate"], click["raw_reward"], click["steps"]) == (2, 1.0, 1.0, 1.0)
    assert click["seconds_per_step"] == 0.6 and click["kinds"] == ["click"]
    assert (enter["successes"], round(enter["success_rate"], 4), enter["raw_reward"]) == (1, 0.3333, 0.0)
    assert enter["seconds_per_step"] == round(16 / 23, 3)
    assert drag["episodes"] == 0  # named but not played yet: not in the mean
    overall = summary["overall"]
    assert overall["episodes"] == 5 and overall["success_rate"] == 0.6
    assert overall["mean_task_success"] == round((1.0 + 1 / 3) / 2, 6) and overall["tasks"] == 2
