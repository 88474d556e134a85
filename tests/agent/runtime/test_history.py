"""The prompt's history window and the stuck check."""

from __future__ import annotations

from PIL import Image, ImageDraw

from qwen_gui_agent.agent.runtime.history import History, StuckDetector, fingerprint, screens_differ


def screen(color: str = "white", box: tuple[int, int, int, int] | None = None, size=(800, 600)) -> Image.Image:
    image = Image.new("RGB", size, color)
    if box:
        ImageDraw.Draw(image).rectangle(box, fill="black")
    return image


def test_only_the_last_images_are_kept():
    history = History(image_window=3)
    for n in range(5):
        history.add(f"answer {n}", action_text=f"act {n}", image=screen())
    steps = history.steps()
    assert [step.answer for step in steps] == [f"answer {n}" for n in range(5)]
    # Window 3 = the current screenshot plus two earlier ones.
    assert [step.image is not None for step in steps] == [False, False, False, True, True]


def test_window_of_one_keeps_text_only():
    history = History(image_window=1)
    history.add("a", image=screen())
    assert history.steps()[0].image is None


def test_small_changes_do_not_count_as_a_new_screen():
    base = fingerprint(screen())
    caret = fingerprint(screen(box=(100, 100, 101, 110)))  # a blinking text caret
    dialog = fingerprint(screen(box=(200, 150, 600, 450)))  # a dialog opened
    assert not screens_differ(base, caret)
    assert screens_differ(base, dialog)


def test_stuck_after_the_same_action_on_the_same_screen():
    detector = StuckDetector(limit=3)
    same = fingerprint(screen())
    assert detector.observe(same, "click(start_box='(1,1)')") is False
    assert detector.observe(same, "click(start_box='(1,1)')") is False
    assert detector.observe(same, "click(start_box='(1,1)')") is True
    assert detector.repeats == 3


def test_a_changed_screen_or_action_resets_the_count():
    detector = StuckDetector(limit=2)
    a, b = fingerprint(screen()), fingerprint(screen(box=(0, 0, 400, 300)))
    assert detector.observe(a, "x") is False
    assert detector.observe(b, "x") is False  # the screen changed: the action had an effect
    assert detector.observe(b, "y") is False  # another action
    assert detector.observe(b, "y") is True


def test_limit_zero_disables_the_check():
    detector = StuckDetector(limit=0)
    same = fingerprint(screen())
    assert not any(detector.observe(same, "x") for _ in range(10))


def text_screen(first_line: int) -> Image.Image:
    """A 1280x800 screen with a small terms box scrolled to ``first_line``."""
    image = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(image)
    for row in range(6):
        draw.text(
            (200, 300 + 16 * row),
            f"{first_line + row:02d}. The traveller agrees to condition {first_line + row}.",
            fill="black",
        )
    return image


def test_a_scrolled_text_box_counts_as_a_new_screen():
    assert screens_differ(fingerprint(text_screen(1)), fingerprint(text_screen(6)))
    assert not screens_differ(fingerprint(text_screen(1)), fingerprint(text_screen(1)))


def test_screens_of_another_size_differ():
    assert screens_differ(fingerprint(screen(size=(800, 600))), fingerprint(screen(size=(600, 800))))


def click(x: int, y: int) -> str:
    return f"click(start_box='({x},{y})')"


def test_two_actions_taking_turns_on_an_unchanged_screen_are_stuck():
    detector = StuckDetector(limit=3)
    same = fingerprint(screen())
    turns = [click(100, 100), click(300, 300)] * 3
    assert [detector.observe(same, action) for action in turns] == [False] * 5 + [True]
    assert detector.repeats == 6
    assert "came round 3 times" in detector.explain() and click(100, 100) in detector.explain()


def test_a_menu_opened_and_closed_again_and_again_is_stuck():
    # The screen changes at every step, but returns to what it was two steps before: a loop all the same.
    detector = StuckDetector(limit=3)
    closed, opened = fingerprint(screen()), fingerprint(screen(box=(0, 0, 400, 300)))
    steps = [(closed, click(10, 10)), (opened, "press_back()")] * 3
    assert [detector.observe(shot, action) for shot, action in steps] == [False] * 5 + [True]


def test_a_three_step_loop_is_stuck():
    detector = StuckDetector(limit=2)
    same = fingerprint(screen())
    steps = [click(10, 10), "type(content='abc')", "hotkey(key='enter')"] * 2
    assert [detector.observe(same, action) for action in steps] == [False] * 5 + [True]


def test_moving_one_pixel_each_time_is_the_same_action():
    detector = StuckDetector(limit=3)
    same = fingerprint(screen())
    assert [detector.observe(same, click(500 + n, 400 - n)) for n in range(3)] == [False, False, True]
    assert "3 times in a row" in detector.explain()


def test_different_targets_text_or_keys_are_not_the_same_action():
    same = fingerprint(screen())
    for steps in (
        [click(100, 100), click(140, 100), click(180, 100)],  # walking along a row of buttons
        ["type(content='a')", "type(content='b')", "type(content='c')"],
        ["scroll(start_box='(5,5)', direction='down')", "scroll(start_box='(5,5)', direction='up')"] * 2,
        [click(10, 10), click(300, 300), click(10, 10), click(600, 600), click(10, 10)],
    ):
        detector = StuckDetector(limit=3)
        assert not any(detector.observe(same, action) for action in steps), steps


def test_a_loop_on_a_screen_that_keeps_changing_is_not_stuck():
    detector = StuckDetector(limit=3)
    shots = [fingerprint(screen(box=(0, 0, 50 * n + 50, 40))) for n in range(6)]  # e.g. a list filling up
    turns = [click(100, 100), click(300, 300)] * 3
    assert not any(detector.observe(shot, action) for shot, action in zip(shots, turns, strict=False))
