"""A target's area is what a random point hits (clipped to the task area); action kinds carry the reference's names."""

from __future__ import annotations

import pytest

from qwen_gui_agent.agent.eval.episode_figures.figures import action_kind, average_targets
from qwen_gui_agent.agent.eval.episode_figures.targets import Box, ReferenceEpisode
from qwen_gui_agent.tools.canonical import parse_action


def test_a_box_inside_the_area_covers_its_own_share() -> None:
    box = Box(left=0.25, top=0.5, width=0.5, height=0.25)
    assert box.area == pytest.approx(0.125)
    assert box.contains(0.25, 0.5) and box.contains(0.74, 0.74)
    assert not box.contains(0.75, 0.6) and not box.contains(0.3, 0.75)  # right and bottom edges are outside


def test_a_box_reaching_past_the_area_counts_only_what_shows() -> None:
    # A select's open list hangs below the task area: a point on the screenshot cannot land there.
    assert Box(left=0.5, top=0.8, width=1.0, height=0.5).area == pytest.approx(0.5 * 0.2)
    assert Box(left=-0.5, top=0.0, width=0.75, height=1.0).area == pytest.approx(0.25)
    assert Box(0.0, 0.0, 0.0, 0.0).area == 0.0


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("click(start_box='(5,6)')", "click"),
        ("left_double(start_box='(5,6)')", "double_click"),
        ("drag(start_box='(1,2)', end_box='(3,4)')", "drag"),
        ("scroll(start_box='(5,6)', direction='down')", "scroll"),
        ("type(content='hi')", "type"),
        ("hotkey(key='enter')", "hotkey"),
        ("finished(content='done')", "finished"),
        ("right_single(start_box='(5,6)')", "right_click"),
    ],
)
def test_action_kinds_use_the_reference_moves_names(text: str, kind: str) -> None:
    assert action_kind(parse_action(text)) == kind


def test_a_reference_episode_reads_back_from_its_json() -> None:
    data = {
        "task": "drag-box",
        "seed": 7,
        "utterance": "Drag it.",
        "raw_reward": 1.0,
        "done": True,
        "steps": [
            {
                "kind": "drag",
                "targets": [
                    {"left": 0.1, "top": 0.2, "width": 0.1, "height": 0.1},
                    {"left": 0.5, "top": 0.5, "width": 0.3, "height": 0.3},
                ],
            },
            {"kind": "click", "targets": [{"left": 0.0, "top": 0.8, "width": 0.6, "height": 0.15}]},
        ],
    }
    episode = ReferenceEpisode.from_json(data)
    assert [step.kind for step in episode.steps] == ["drag", "click"]
    assert episode.steps[0].targets[1] == Box(0.5, 0.5, 0.3, 0.3)


def test_the_average_target_is_the_mean_centre_of_each_step_and_point() -> None:
    def episode(seed: int, left: float) -> ReferenceEpisode:
        steps = [
            {"kind": "click", "targets": [{"left": left, "top": 0.5, "width": 0.2, "height": 0.1}]},
            {"kind": "type", "targets": []},
        ]
        data = {"task": "t", "seed": seed, "utterance": "", "raw_reward": 1.0, "done": True, "steps": steps}
        return ReferenceEpisode.from_json(data)

    averages = average_targets([episode(1, 0.0), episode(2, 0.4), None])
    assert averages.keys() == {(0, 0)}
    assert averages[(0, 0)] == pytest.approx((0.3, 0.55))
