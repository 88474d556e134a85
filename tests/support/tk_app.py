"""A small real Tk app that records what it receives, for end-to-end tests.

Run as its own process on a test display:

    python3 -m tests.support.tk_app --state /tmp/state.json --x 100 --y 50

It writes a JSON state file (atomically, after every event): where each widget
is on the screen (X root coordinates, from winfo_rootx/rooty, so tests never
guess), button clicks, mouse buttons on a pad, entry contents, list and text
scroll positions, the slider's value and where its handle is, and the keys it
saw. ``TkApp`` (the test side) starts it and reads the state.
"""

from __future__ import annotations

import os
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.app_process import AppProcess, run_app, save_state

LIST_ITEMS = 200
TEXT_LINE = " ".join(f"column{n:03d}" for n in range(120))
SLIDER_LENGTH = 300
# X11 wheel buttons: 4/5 vertical, 6/7 horizontal. Tk 8.6 delivers 6/7 as Shift+4/5 (its horizontal
# wheel convention), so the key is (button as Tk reports it, shift held) -> (axis, units).
WHEEL_BUTTONS = {
    (4, False): ("y", -1),
    (5, False): ("y", 1),
    (4, True): ("x", -1),
    (5, True): ("x", 1),
    (6, False): ("x", -1),
    (7, False): ("x", 1),
}


class RecorderApp:
    def __init__(self, root: tk.Tk, state_path: Path) -> None:
        self.root = root
        self.state_path = state_path
        self.state: dict[str, Any] = {
            "ready": False,
            "clicks": {"alpha": 0, "beta": 0},
            "pad": [],
            "keys": [],
            "entries": {},
            "wheel": {"list": [], "text": []},
            "widgets": {},
            "pid": os.getpid(),
        }
        self.entries: dict[str, tk.Entry] = {}
        self._build()

    def _build(self) -> None:
        root = self.root
        row = tk.Frame(root)
        row.pack(fill="x", padx=8, pady=4)
        self.alpha = tk.Button(row, name="alpha", text="Alpha", width=10, command=lambda: self._count("alpha"))
        self.beta = tk.Button(row, name="beta", text="Beta", width=10, command=lambda: self._count("beta"))
        self.alpha.pack(side="left", padx=4)
        self.beta.pack(side="left", padx=4)

        self.pad = tk.Label(root, name="pad", text="pad", bg="#d0e0ff", width=30, height=4)
        self.pad.pack(padx=8, pady=4)
        for sequence, kind in (
            ("<ButtonPress-1>", "left"),
            ("<Double-Button-1>", "double"),
            ("<ButtonPress-2>", "middle"),
            ("<ButtonPress-3>", "right"),
            ("<Enter>", "enter"),
            ("<Motion>", "motion"),
        ):
            self.pad.bind(sequence, self._pad_event(kind), add="+")

        for name in ("ascii", "unicode"):
            entry = tk.Entry(root, name=f"entry_{name}", width=40, font=("TkFixedFont", 12))
            entry.pack(padx=8, pady=4)
            entry.bind("<KeyRelease>", lambda _e: self._save(), add="+")
            entry.bind("<FocusIn>", lambda _e: self._save(), add="+")
            entry.bind("<<Paste>>", lambda _e: self.root.after(20, self._save), add="+")
            self.entries[name] = entry

        self.listbox = tk.Listbox(root, name="list", height=8, exportselection=False)
        for n in range(LIST_ITEMS):
            self.listbox.insert("end", f"item {n:03d}")
        self.listbox.pack(fill="x", padx=8, pady=4)

        self.text = tk.Text(root, name="text", height=3, width=40, wrap="none")
        self.text.insert("1.0", TEXT_LINE)
        self.text.configure(state="disabled")
        self.text.pack(padx=8, pady=4)
        # Wheel buttons on X11: 4/5 vertical, 6/7 horizontal. Bound here so the app's answer to each
        # wheel click is fixed (one unit per click) whatever Tk version's default bindings say.
        # Tk 8.6 cannot name buttons 6/7 in a binding, so one <ButtonPress> handler reads event.num/state.
        for widget, name in ((self.listbox, "list"), (self.text, "text")):
            widget.bind("<ButtonPress>", self._wheel(widget, name))

        self.slider = tk.Scale(
            root,
            name="slider",
            from_=0,
            to=100,
            orient="horizontal",
            length=SLIDER_LENGTH,
            command=lambda _v: self._save(),
        )
        self.slider.pack(padx=8, pady=4)

        root.bind_all("<KeyPress>", self._key, add="+")

    # ---------------------------------------------------------------- events

    def _count(self, name: str) -> None:
        self.state["clicks"][name] += 1
        self._save()

    def _pad_event(self, kind: str) -> Callable[[tk.Event], None]:
        def record(event: tk.Event) -> None:
            self.state["pad"].append({"kind": kind, "x_root": event.x_root, "y_root": event.y_root})
            self._save()

        return record

    def _wheel(self, widget: tk.Listbox | tk.Text, name: str) -> Callable[[tk.Event], str | None]:
        def scroll(event: tk.Event) -> str | None:
            key = (event.num, bool(event.state & 0x1))
            if key not in WHEEL_BUTTONS:
                return None  # ordinary clicks keep Tk's class bindings
            axis, units = WHEEL_BUTTONS[key]
            (widget.yview_scroll if axis == "y" else widget.xview_scroll)(units, "units")
            self.state["wheel"][name].append(f"{axis}{units:+d}")
            self._save()
            return "break"

        return scroll

    def _key(self, event: tk.Event) -> None:
        modifiers = [name for bit, name in ((0x4, "ctrl"), (0x8, "alt"), (0x1, "shift")) if event.state & bit]
        self.state["keys"].append({"keysym": event.keysym, "char": event.char, "modifiers": modifiers})
        self._save()

    # ---------------------------------------------------------------- state

    def _geometry(self, widget: tk.Misc) -> dict[str, int]:
        return {
            "x": widget.winfo_rootx(),
            "y": widget.winfo_rooty(),
            "width": widget.winfo_width(),
            "height": widget.winfo_height(),
        }

    def _save(self) -> None:
        self.root.update_idletasks()
        widgets = {
            "alpha": self.alpha,
            "beta": self.beta,
            "pad": self.pad,
            "list": self.listbox,
            "text": self.text,
            "slider": self.slider,
            **{f"entry_{k}": v for k, v in self.entries.items()},
        }
        self.state["widgets"] = {name: self._geometry(widget) for name, widget in widgets.items()}
        self.state["entries"] = {name: entry.get() for name, entry in self.entries.items()}
        self.state["list_top"] = self.listbox.nearest(0)
        self.state["list_yview"] = list(self.listbox.yview())
        self.state["text_xview"] = list(self.text.xview())
        self.state["slider"] = self.slider.get()
        # Where the handle sits for a value: root coordinates tests can press on and drag to.
        slider_x, slider_y = self.slider.winfo_rootx(), self.slider.winfo_rooty()
        self.state["slider_handles"] = {
            str(value): [slider_x + self.slider.coords(value)[0], slider_y + self.slider.coords(value)[1]]
            for value in range(0, 101, 10)
        }
        self.state["screen"] = [self.root.winfo_screenwidth(), self.root.winfo_screenheight()]
        self.state["focus"] = str(self.root.focus_get() or "")
        save_state(self.state_path, self.state)

    def mark_ready(self) -> None:
        self.state["ready"] = True
        self._save()


def main(argv: list[str] | None = None) -> None:
    run_app(
        RecorderApp,
        class_name="TkRecorder",
        title="recorder",
        description=__doc__.splitlines()[0],
        default_position=(40, 40),
        argv=argv,
    )


# ----------------------------------------------------------------------------- test side


class TkApp(AppProcess):
    """The Tk app running as a child process; ``state()`` reads its latest JSON."""

    module = "tests.support.tk_app"
    label = "the Tk app"
    default_position = (40, 40)


if __name__ == "__main__":
    main()
