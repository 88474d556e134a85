"""The practice app of the first run: a newsletter sign-up form, drawn full screen with Tk.

    python3 examples/practice/practice_app.py

Every widget sits at a fixed fraction of the screen (the name field at 50% across and 30% down, ...),
so answers given in thousandths of the screen (``--coords relative``) hit the same widget on any
screen size: that is what lets examples/practice/answers.yaml, a script written once, play on your
screen or on a virtual one. When ``PRACTICE_APP_STATE`` names a file, the app writes what it holds
there as JSON after every change (the tests read it). It closes itself after ``--quit-after``
seconds (600 by default), so a forgotten window does not stay open.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

try:
    import tkinter as tk
except ImportError:  # Python built without Tk (Debian/Ubuntu ship it apart)
    sys.exit("the practice app needs Tk: apt-get install python3-tk (Debian/Ubuntu) or brew install python-tk")

FONT = ("TkDefaultFont", 18)
STATE_VARIABLE = "PRACTICE_APP_STATE"


class SignUpForm:
    """Name, a 'weekly news' box and a Sign up button; the answer appears under the button."""

    def __init__(self, root: tk.Tk, state_path: Path | None) -> None:
        self.root = root
        self.state_path = state_path
        self.subscribed = tk.BooleanVar(value=False)
        self.signed_up: str | None = None
        root.configure(bg="white")
        self._label("Practice: sign up for the newsletter", 0.12, font=("TkDefaultFont", 26, "bold"))
        self._label("Name", 0.24)
        self.name = tk.Entry(root, font=FONT, justify="center", relief="solid", borderwidth=2)
        self.name.place(relx=0.5, rely=0.30, relwidth=0.40, relheight=0.07, anchor="center")
        self.name.bind("<KeyRelease>", lambda _event: self._save(), add="+")
        tk.Checkbutton(
            root, text="Send me the weekly news", variable=self.subscribed, font=FONT, bg="white", command=self._save
        ).place(relx=0.5, rely=0.45, relwidth=0.40, relheight=0.07, anchor="center")
        tk.Button(
            root, text="Sign up", font=FONT, bg="#3070d0", fg="white", activebackground="#4080e0", command=self._sign_up
        ).place(relx=0.5, rely=0.60, relwidth=0.20, relheight=0.08, anchor="center")
        self.answer = self._label("", 0.75)

    def _label(self, text: str, rely: float, font: tuple[Any, ...] = FONT) -> tk.Label:
        label = tk.Label(self.root, text=text, font=font, bg="white")
        label.place(relx=0.5, rely=rely, anchor="center")
        return label

    def _sign_up(self) -> None:
        name = self.name.get().strip()
        if not name:
            self.answer.configure(text="Please type your name first", fg="#b00000")
        elif not self.subscribed.get():
            self.answer.configure(text="Tick the weekly news box to sign up", fg="#b00000")
        else:
            self.signed_up = name
            self.answer.configure(text=f"Thanks, {name}! You are signed up.", fg="#006000")
        self._save()

    def _save(self) -> None:
        if self.state_path is None:
            return
        state = {
            "name": self.name.get(),
            "subscribed": self.subscribed.get(),
            "signed_up": self.signed_up,
            "pid": os.getpid(),
        }
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        temporary.write_text(json.dumps(state), encoding="utf-8")
        os.replace(temporary, self.state_path)  # whole documents only: a reader never sees half of one


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quit-after", type=float, default=600, help="seconds before the app closes itself")
    args = parser.parse_args(argv)
    try:
        root = tk.Tk(className="Practice")
    except tk.TclError as error:
        sys.exit(f"the practice app cannot open a window ({error}): run it on a desktop, or under Xvfb")
    root.title("Practice: newsletter sign-up")
    # Full screen, placed by us: without a window manager (Xvfb) the geometry is honoured exactly.
    root.geometry(f"{root.winfo_screenwidth()}x{root.winfo_screenheight()}+0+0")
    root.attributes("-fullscreen", True)
    state = os.environ.get(STATE_VARIABLE)
    form = SignUpForm(root, Path(state) if state else None)
    root.after(int(args.quit_after * 1000), root.destroy)
    root.after(200, form._save)  # the first state once the window is up
    root.mainloop()


if __name__ == "__main__":
    main()
