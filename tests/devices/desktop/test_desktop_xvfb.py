"""The desktop driver against a real X server (Xvfb) and a real Tk app that records what it gets.

Widgets are found by asking the app (winfo_rootx/rooty in its state file).
These run in-process on the session's shared display (pyautogui can only
bind one); other layouts are driven through the CLI in test_device_cli.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from qwen_gui_agent.devices.desktop.device import DesktopDevice, open_desktop
from qwen_gui_agent.devices.desktop.settings import DesktopSettings, Region
from qwen_gui_agent.devices.errors import FailSafeTriggered, UnsupportedAction
from qwen_gui_agent.tools.actions import (
    Click,
    DoubleClick,
    Drag,
    Hotkey,
    MiddleClick,
    Move,
    Point,
    PressEnter,
    RightClick,
    Scroll,
    Type,
)
from qwen_gui_agent.tools.frames import FrameBounds, ModelFrame, map_action
from qwen_gui_agent.tools.keys import NAMED_KEYS
from tests.support.tk_app import TkApp
from tests.support.xvfb import XvfbServer

pytestmark = [pytest.mark.xvfb]


def at(xy: tuple[int, int] | list[int]) -> Point:
    return Point(x=int(xy[0]), y=int(xy[1]))


def click_into(desktop: DesktopDevice, app: TkApp, widget: str) -> None:
    desktop.execute(Click(point=at(app.centre(widget))))
    app.wait_for(lambda s: s["focus"] == f".{widget}", what=f"focus on {widget}")


def test_screenshot_shows_the_app_where_it_says_it_is(
    desktop: DesktopDevice, tk_app: TkApp, x_display: XvfbServer
) -> None:
    shot = desktop.screenshot()
    assert shot.image.size == (x_display.width, x_display.height) and shot.image.mode == "RGB"
    assert (shot.geometry.scale, shot.geometry.origin_x, shot.geometry.origin_y) == (1.0, 0, 0)
    pad = tk_app.state()["widgets"]["pad"]
    inside_pad = (pad["x"] + 6, pad["y"] + 6)  # clear of the label's text
    assert shot.image.getpixel(inside_pad) == (0xD0, 0xE0, 0xFF)  # the pad's colour: channels in order
    assert shot.capture_ms > 0


def test_click_presses_the_button(desktop: DesktopDevice, tk_app: TkApp) -> None:
    execution = desktop.execute(Click(point=at(tk_app.centre("beta"))))
    state = tk_app.wait_for(lambda s: s["clicks"]["beta"] == 1, what="Beta to be clicked")
    assert state["clicks"]["alpha"] == 0
    x, y = tk_app.centre("beta")
    assert execution.commands == (f"click x={x} y={y} button=left",)


def test_double_right_middle_clicks_and_hover(desktop: DesktopDevice, tk_app: TkApp) -> None:
    x, y = tk_app.centre("pad")
    desktop.execute(Move(point=Point(x=x - 20, y=y)))
    desktop.execute(DoubleClick(point=Point(x=x, y=y)))
    desktop.execute(RightClick(point=Point(x=x + 5, y=y)))
    desktop.execute(MiddleClick(point=Point(x=x + 10, y=y)))
    state = tk_app.wait_for(lambda s: any(e["kind"] == "middle" for e in s["pad"]), what="the middle click")
    events = [(e["kind"], e["x_root"], e["y_root"]) for e in state["pad"]]
    assert ("enter", x - 20, y) in events or ("motion", x - 20, y) in events
    assert ("double", x, y) in events
    assert ("right", x + 5, y) in events and ("middle", x + 10, y) in events
    # Two presses: Tk reports the first as a press and the second as the double click (its most specific binding).
    kinds = [kind for kind, *_ in events]
    assert (kinds.count("left"), kinds.count("double")) == (1, 1)


def test_type_ascii_then_submit(desktop: DesktopDevice, tk_app: TkApp) -> None:
    click_into(desktop, tk_app, "entry_ascii")
    text = "Hello, World! 1+1=2 ~`@#$%^&*()_[]{}|\\;:'\",.>/?"  # "<" takes the paste route on X11
    desktop.execute(Type(text=text, submit=True))
    state = tk_app.wait_for(lambda s: any(k["keysym"] == "Return" for k in s["keys"]), what="Return")
    assert state["entries"]["ascii"] == text


def test_type_unicode_through_the_clipboard_and_restore_it(
    desktop: DesktopDevice, tk_app: TkApp, x_display: XvfbServer
) -> None:
    if shutil.which("xclip") is None:
        pytest.skip("xclip is not installed (apt-get install xclip)")
    env = x_display.env()
    subprocess.run(
        ["xclip", "-selection", "clipboard", "-in"],
        input=b"the user's clipboard",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=5,
    )
    click_into(desktop, tk_app, "entry_unicode")
    text = "北京到上海 <Ünïcödé> ÆØÅ ß"
    execution = desktop.execute(Type(text=text))
    assert execution.commands == (f"paste text='{text}' keys='ctrl v'",)
    tk_app.wait_for(lambda s: s["entries"]["unicode"] == text, what="the pasted text")
    restored = subprocess.run(
        ["xclip", "-selection", "clipboard", "-out"], env=env, capture_output=True, timeout=5, check=True
    )
    assert restored.stdout.decode() == "the user's clipboard"


def test_type_unicode_through_xdotool(x_display: XvfbServer, tk_app: TkApp) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    with open_desktop(DesktopSettings(unicode_input="xdotool", pause=0.02)) as desktop:
        click_into(desktop, tk_app, "entry_unicode")
        text = "中文输入 café"
        assert desktop.execute(Type(text=text)).commands == (f"xdotool_type text='{text}'",)
        tk_app.wait_for(lambda s: s["entries"]["unicode"] == text, what="the xdotool-typed text")


def test_xdotool_typing_survives_an_app_that_reads_its_events_late(x_display: XvfbServer, tk_app: TkApp) -> None:
    """On a busy machine the app reads its key events after xdotool has moved on. It must still get each one.

    The app is stopped (SIGSTOP) while the text is typed, so it reads every key event afterwards:
    each must still name its character then (xdotool alone rebinds one spare key per character
    and unbinds it, so a late reader finds nothing there: 中文输入 came out as 中).
    """
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    text = "中文输入 café ñ€"
    with open_desktop(DesktopSettings(unicode_input="xdotool", pause=0.02)) as desktop:
        click_into(desktop, tk_app, "entry_unicode")
        pid = tk_app.state()["pid"]
        os.kill(pid, signal.SIGSTOP)
        try:
            desktop.execute(Type(text=text))
        finally:
            os.kill(pid, signal.SIGCONT)
        tk_app.wait_for(lambda s: s["entries"]["unicode"] == text, what="the text typed while the app was busy")


def test_xdotool_types_more_characters_than_there_are_spare_keys_and_unbinds_them(
    x_display: XvfbServer, tk_app: TkApp
) -> None:
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    from Xlib import display as xdisplay

    from qwen_gui_agent.devices.desktop.keymap import SpareKeys

    reader = xdisplay.Display()
    first, last = reader.display.info.min_keycode, reader.display.info.max_keycode
    before = reader.get_keyboard_mapping(first, last - first + 1)
    spare = SpareKeys(xdisplay.Display())
    capacity = spare.capacity
    spare.close()
    text = "".join(chr(0x4E00 + n) for n in range(capacity + 5)) + "é"  # one rebinding, between two chunks
    with open_desktop(DesktopSettings(unicode_input="xdotool", pause=0.02)) as desktop:
        click_into(desktop, tk_app, "entry_unicode")
        desktop.execute(Type(text=text))
        tk_app.wait_for(lambda s: s["entries"]["unicode"] == text, what="the long xdotool-typed text")
    assert reader.get_keyboard_mapping(first, last - first + 1) == before  # every spare key unbound again
    reader.close()


def test_a_named_display_types_through_bound_keys_and_unbinds_them(x_display: XvfbServer, tk_app: TkApp) -> None:
    """desktop::D (a suite's second display) types with xdotool too: the same binding, the same clean-up."""
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    from Xlib import display as xdisplay

    reader = xdisplay.Display()
    first, last = reader.display.info.min_keycode, reader.display.info.max_keycode
    before = reader.get_keyboard_mapping(first, last - first + 1)
    text = "中文输入 café ñ€"
    with open_desktop(DesktopSettings(display=x_display.display, pause=0.02)) as desktop:
        click_into(desktop, tk_app, "entry_unicode")
        pid = tk_app.state()["pid"]
        os.kill(pid, signal.SIGSTOP)  # the app reads every key event late, as on a busy machine
        try:
            desktop.execute(Type(text=text))
        finally:
            os.kill(pid, signal.SIGCONT)
        tk_app.wait_for(lambda s: s["entries"]["unicode"] == text, what="the text typed on the named display")
    assert reader.get_keyboard_mapping(first, last - first + 1) == before  # closing the device unbound the keys
    reader.close()


def test_a_named_display_drags_through_the_points_between(x_display: XvfbServer, tk_app: TkApp) -> None:
    """desktop::D glides the pointer while the button is down, as pyautogui's dragTo does: a widget that starts
    dragging on one motion event and follows the next (jQuery UI's sortable lists) needs more than one jump."""
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed (apt-get install xdotool)")
    box = tk_app.state()["widgets"]["pad"]
    y = box["y"] + box["height"] // 2
    start, end = (box["x"] + 5, y), (box["x"] + box["width"] - 5, y)
    with open_desktop(DesktopSettings(display=x_display.display, pause=0.02)) as desktop:
        execution = desktop.execute(Drag(start=at(start), end=at(end), duration=0.3))
    assert execution.commands == (f"drag from={start[0]},{y} to={end[0]},{y} duration=0.3 button=left",)
    state = tk_app.wait_for(
        lambda s: any(e["kind"] == "motion" and e["x_root"] == end[0] for e in s["pad"]), what="the drag's last motion"
    )
    pressed = next(i for i, e in enumerate(state["pad"]) if e["kind"] == "left" and e["x_root"] == start[0])
    on_the_way = {
        e["x_root"] for e in state["pad"][pressed:] if e["kind"] == "motion" and start[0] < e["x_root"] < end[0]
    }
    assert len(on_the_way) >= 5


def test_hotkey_reaches_the_app_with_its_modifiers(desktop: DesktopDevice, tk_app: TkApp) -> None:
    click_into(desktop, tk_app, "entry_ascii")
    desktop.execute(Hotkey(keys=("ctrl", "shift", "k")))
    desktop.execute(PressEnter())
    state = tk_app.wait_for(lambda s: any(k["keysym"] == "Return" for k in s["keys"]), what="the keys")
    chord = [k for k in state["keys"] if k["keysym"].lower() == "k"]
    assert chord and {"ctrl", "shift"} <= set(chord[0]["modifiers"])


def test_every_canonical_key_exists_on_x11_or_is_refused(desktop: DesktopDevice, tk_app: TkApp) -> None:
    import pyautogui  # bound to the shared display by the fixtures above

    from qwen_gui_agent.devices.desktop.keys import pyautogui_key

    mapping = pyautogui.platformModule.keyboardMapping
    missing = sorted(key for key in NAMED_KEYS if mapping.get(pyautogui_key(key, "x11")) is None)
    assert missing == ["volumedown", "volumemute", "volumeup"]  # pyautogui has no X11 codes for these
    with pytest.raises(UnsupportedAction, match="volumeup"):
        desktop.execute(Hotkey(keys=("volumeup",)))


def test_scroll_the_list_down_and_up(desktop: DesktopDevice, tk_app: TkApp) -> None:
    point = at(tk_app.centre("list"))
    desktop.execute(Scroll(point=point, direction="down", amount=7))
    tk_app.wait_for(lambda s: s["list_top"] == 7, what="the list to scroll down 7")
    desktop.execute(Scroll(point=point, direction="up", amount=3))
    state = tk_app.wait_for(lambda s: s["list_top"] == 4, what="the list to scroll back up 3")
    assert state["wheel"]["list"] == ["y+1"] * 7 + ["y-1"] * 3


def test_scroll_horizontally(desktop: DesktopDevice, tk_app: TkApp) -> None:
    point = at(tk_app.centre("text"))
    desktop.execute(Scroll(point=point, direction="right", amount=6))
    desktop.execute(Scroll(point=point, direction="left", amount=2))
    state = tk_app.wait_for(lambda s: len(s["wheel"]["text"]) == 8, what="8 horizontal wheel clicks")
    assert state["wheel"]["text"] == ["x+1"] * 6 + ["x-1"] * 2
    assert state["text_xview"][0] > 0


def test_scroll_without_a_point_scrolls_at_the_screen_centre(desktop: DesktopDevice, x_display: XvfbServer) -> None:
    execution = desktop.execute(Scroll(direction="down", amount=1))
    assert execution.action.point == Point(x=x_display.width // 2, y=x_display.height // 2)
    assert execution.commands == (f"scroll at={x_display.width // 2},{x_display.height // 2} clicks=-1 axis=vertical",)


def test_drag_the_slider(desktop: DesktopDevice, tk_app: TkApp) -> None:
    handles = tk_app.state()["slider_handles"]
    desktop.execute(Drag(start=at(handles["0"]), end=at(handles["70"]), duration=0.4))
    state = tk_app.wait_for(lambda s: abs(s["slider"] - 70) <= 1, what="the slider at 70")
    # Dragging from where the pointer already is (Qwen's left_click_drag): the handle is under it now.
    handles = state["slider_handles"]
    desktop.execute(Move(point=at(handles[str(round(state["slider"] / 10) * 10)])))
    execution = desktop.execute(Drag(end=at(handles["30"]), duration=0.4))
    assert execution.commands[0].startswith("drag from=pointer ")
    tk_app.wait_for(lambda s: abs(s["slider"] - 30) <= 1, what="the slider at 30")


def test_region_with_nonzero_origin_and_a_model_frame(x_display: XvfbServer, tk_app: TkApp) -> None:
    """Capture only a rectangle around the app; clicks given in that capture's (or a model's) frame land."""
    box = tk_app.state()["widgets"]
    left, top = box["alpha"]["x"] - 25, box["alpha"]["y"] - 15
    region = Region(left=left, top=top, width=500, height=420)
    with open_desktop(DesktopSettings(region=region, pause=0.02)) as desktop:
        shot = desktop.screenshot()
        assert shot.image.size == (500, 420)
        assert (shot.geometry.origin_x, shot.geometry.origin_y) == (left, top)
        # Screenshot pixels: the widget's position inside the capture.
        ax, ay = tk_app.centre("alpha")
        desktop.execute(map_action(Click(point=Point(x=ax - left, y=ay - top)), None, shot.geometry))
        tk_app.wait_for(lambda s: s["clicks"]["alpha"] == 1, what="Alpha clicked through the region")
        # A model frame smaller than the capture (the image a model would be shown).
        frame = ModelFrame.for_screen(500, 420, FrameBounds(max_pixels=200 * 28 * 28))
        bx, by = tk_app.centre("beta")
        model_point = Point(x=round((bx - left) * frame.width / 500), y=round((by - top) * frame.height / 420))
        desktop.execute(map_action(Click(point=model_point), frame, shot.geometry))
        tk_app.wait_for(lambda s: s["clicks"]["beta"] == 1, what="Beta clicked from a model frame")


def test_failsafe_stops_the_run(x_display: XvfbServer) -> None:
    with open_desktop(DesktopSettings(pause=0.02)) as desktop:
        desktop.execute(Move(point=Point(x=0, y=0)))  # the pointer is now in the corner
        try:
            with pytest.raises(FailSafeTriggered) as caught:
                desktop.execute(Click(point=Point(x=400, y=400)))
            assert "--no-failsafe" in caught.value.hint
        finally:
            with open_desktop(DesktopSettings(failsafe=False, pause=0.02)) as unguarded:
                unguarded.execute(Move(point=Point(x=300, y=300)))  # out of the corner for the next tests


def test_describe_records_what_replay_needs(desktop: DesktopDevice, x_display: XvfbServer) -> None:
    facts = desktop.describe()
    assert facts["kind"] == "computer" and facts["width"] == x_display.width and facts["scale"] == 1.0
    assert DesktopSettings.model_validate(facts["settings"]) == desktop.settings


def test_a_display_that_dies_is_a_disconnected_device() -> None:
    # Issue 22, item 9: the capture reported a dead X server as a failed screenshot (a CaptureError, so a suite
    # handed the display to its next task), and closing the device raised xcb's own error (a suite's "internal
    # error"). Both now say the display is gone (DeviceDisconnected: the suite retires it).
    from qwen_gui_agent.devices.errors import DeviceDisconnected
    from tests.support.xvfb import XvfbUnavailable, start_xvfb_server

    try:
        server = start_xvfb_server(320, 200)
    except XvfbUnavailable as error:
        pytest.skip(str(error))
    desktop = open_desktop(DesktopSettings(display=server.display, pause=0.02))
    try:
        assert desktop.screenshot().image.size == (320, 200)
    finally:
        server.close()  # the X server goes away under the open device
    with pytest.raises(DeviceDisconnected, match=f"the X display {server.display} is gone"):
        desktop.screenshot()
    with pytest.raises(DeviceDisconnected):
        desktop.close()
