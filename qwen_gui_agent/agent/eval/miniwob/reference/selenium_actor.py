"""The upper bound: the reference policy's moves played through Selenium (WebDriver actions) directly.

The same moves the agent's path turns into model answers are sent here as W3C input actions at
the same CSS points of the viewport, with no screenshot, frame, mapping, X server or settle in
between. What the reference policy scores this way is what the agent's path must score too: any
gap is a defect of the agent's path (frame, scale, typing, timing).
"""

from __future__ import annotations

import time
from typing import Any

from .moves import Move

DRAG_S = 0.5  # a drag's glide, as long as the agent's (tools.actions.Drag's default duration) ...
DRAG_STEPS = 10  # ... and in as many moves as the desktop device makes (xdotool_input.DRAG_STEPS)
# One wheel click as a WebDriver wheel delta: Chromium scales the delta by the page zoom as it scales an X
# wheel click, and 32 moves a MiniWoB++ textarea about as far as one X click does (measured at zoom 3).
WHEEL_DELTA = 32


def selenium_key(name: str) -> str:
    """Our normalized key name -> Selenium's key code (a printable key stays itself)."""
    from selenium.webdriver.common.keys import Keys

    named = {
        "ctrl": Keys.CONTROL,
        "alt": Keys.ALT,
        "shift": Keys.SHIFT,
        "cmd": Keys.META,
        "win": Keys.META,
        "meta": Keys.META,
        "enter": Keys.ENTER,
        "esc": Keys.ESCAPE,
        "escape": Keys.ESCAPE,
        "tab": Keys.TAB,
        "space": Keys.SPACE,
        "backspace": Keys.BACKSPACE,
        "delete": Keys.DELETE,
        "home": Keys.HOME,
        "end": Keys.END,
        "pageup": Keys.PAGE_UP,
        "pagedown": Keys.PAGE_DOWN,
        "up": Keys.ARROW_UP,
        "down": Keys.ARROW_DOWN,
        "left": Keys.ARROW_LEFT,
        "right": Keys.ARROW_RIGHT,
    }
    if name in named:
        return str(named[name])
    if len(name) == 1:
        return name
    raise ValueError(f"no Selenium key for {name!r}")


class SeleniumActor:
    """Plays moves on one driver's page."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def play(self, move: Move) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        chain = ActionChains(self.driver, duration=0)
        pointer, keys = chain.w3c_actions.pointer_action, chain.w3c_actions.key_action
        match move.kind:
            case "click" | "double_click":
                x, y = _whole(move.point)
                pointer.move_to_location(x, y)
                pointer.click() if move.kind == "click" else pointer.double_click()
            case "drag":
                (x, y), (end_x, end_y) = _whole(move.point), _whole(move.end)
                pointer.move_to_location(x, y)
                pointer.pointer_down()
                for step in range(1, DRAG_STEPS + 1):
                    pointer.pause(DRAG_S / DRAG_STEPS)
                    pointer.move_to_location(
                        round(x + (end_x - x) * step / DRAG_STEPS), round(y + (end_y - y) * step / DRAG_STEPS)
                    )
                pointer.pointer_up()
            case "scroll":
                x, y = _whole(move.point)
                distance = move.amount * WHEEL_DELTA
                delta_x = {"left": -distance, "right": distance}.get(move.direction, 0)
                delta_y = {"up": -distance, "down": distance}.get(move.direction, 0)
                chain.w3c_actions.wheel_action.scroll(x=x, y=y, delta_x=delta_x, delta_y=delta_y)
            case "type":
                for character in move.text:
                    keys.key_down(character)
                    keys.key_up(character)
            case "hotkey":
                codes = [selenium_key(key) for key in move.keys]
                for code in codes:
                    keys.key_down(code)
                for code in reversed(codes):
                    keys.key_up(code)
            case "wait":
                time.sleep(move.seconds)
                return
            case "finished":
                return
        chain.w3c_actions.perform()


def _whole(point: tuple[float, float] | None) -> tuple[int, int]:
    if point is None:
        raise ValueError("this move needs a point")
    return round(point[0]), round(point[1])
