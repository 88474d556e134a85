"""A small real Tk booking form for end-to-end runs of the agent.

Run as its own process on a test display:

    python3 -m tests.support.booking_app --state /tmp/booking.json --x 0 --y 0

The form: a name entry, a password entry (masked), a list of destinations,
a terms box that must be scrolled to its end before the confirm button is
enabled, and the confirm button. After every event the app writes its state
to a JSON file (atomically): field values, the chosen city, whether the
terms were read, the booking once confirmed, and where every widget and list
row is on the screen (X root coordinates from winfo_rootx/rooty), so a
scripted model can answer with real points. ``BookingApp`` is the test side.
"""

from __future__ import annotations

import os
import tkinter as tk
from pathlib import Path
from typing import Any

from tests.support.app_process import AppProcess, run_app, save_state

CITIES = ("Beijing", "Shanghai", "Guangzhou", "Shenzhen", "Chengdu", "Hangzhou")
TERMS_LINES = 60
TERMS_HEIGHT = 6
WHEEL_UNITS = 5  # lines per wheel click, fixed here whatever Tk's default binding does
FONT = ("TkDefaultFont", 14)


class BookingForm:
    def __init__(self, root: tk.Tk, state_path: Path) -> None:
        self.root = root
        self.state_path = state_path
        self.state: dict[str, Any] = {"ready": False, "confirm_clicks": 0, "booking": None, "pid": os.getpid()}
        self._build()

    def _build(self) -> None:
        root = self.root
        root.configure(padx=20, pady=10)
        tk.Label(root, text="Book a flight", font=("TkDefaultFont", 20, "bold")).grid(row=0, column=0, columnspan=2)
        tk.Label(root, text="Name", font=FONT).grid(row=1, column=0, sticky="w")
        self.name = tk.Entry(root, width=24, font=FONT)
        self.name.grid(row=1, column=1, pady=6)
        tk.Label(root, text="Password", font=FONT).grid(row=2, column=0, sticky="w")
        self.password = tk.Entry(root, width=24, font=FONT, show="*")
        self.password.grid(row=2, column=1, pady=6)
        for entry in (self.name, self.password):
            entry.bind("<KeyRelease>", lambda _e: self._save(), add="+")

        tk.Label(root, text="Destination", font=FONT).grid(row=3, column=0, sticky="nw")
        self.cities = tk.Listbox(root, height=len(CITIES), font=FONT, exportselection=False)
        for city in CITIES:
            self.cities.insert("end", city)
        self.cities.bind("<<ListboxSelect>>", lambda _e: self._save())
        self.cities.grid(row=3, column=1, pady=6, sticky="we")

        tk.Label(root, text="Terms", font=FONT).grid(row=4, column=0, sticky="nw")
        self.terms = tk.Text(root, height=TERMS_HEIGHT, width=40, wrap="none")
        self.terms.insert(
            "1.0", "\n".join(f"{n:02d}. The traveller agrees to condition {n}." for n in range(1, TERMS_LINES + 1))
        )
        self.terms.configure(state="disabled")
        self.terms.bind("<ButtonPress>", self._wheel)
        self.terms.grid(row=4, column=1, pady=6)

        self.confirm = tk.Button(root, text="Confirm booking", font=FONT, state="disabled", command=self._confirm)
        self.confirm.grid(row=5, column=1, pady=10, sticky="we")
        self.result = tk.Label(root, text="", font=FONT, fg="#006000")
        self.result.grid(row=6, column=0, columnspan=2)

    # ---------------------------------------------------------------- events

    def _wheel(self, event: tk.Event) -> str | None:
        if event.num not in (4, 5):
            return None  # ordinary clicks keep Tk's class bindings
        self.terms.yview_scroll(-WHEEL_UNITS if event.num == 4 else WHEEL_UNITS, "units")
        if self.terms.yview()[1] >= 0.999:
            self.confirm.configure(state="normal", bg="#60c060", activebackground="#70d070")
        self._save()
        return "break"

    def _confirm(self) -> None:
        self.state["confirm_clicks"] += 1
        chosen = self.cities.curselection()
        if self.name.get() and self.password.get() and chosen:
            self.state["booking"] = {
                "name": self.name.get(),
                "password": self.password.get(),
                "destination": CITIES[chosen[0]],
            }
            self.result.configure(text=f"Booked: {self.name.get()} to {CITIES[chosen[0]]}")
        else:
            self.result.configure(text="Please fill in every field", fg="#a00000")
        self._save()

    # ---------------------------------------------------------------- state

    @staticmethod
    def _box(widget: tk.Misc) -> dict[str, int]:
        return {
            "x": widget.winfo_rootx(),
            "y": widget.winfo_rooty(),
            "width": widget.winfo_width(),
            "height": widget.winfo_height(),
        }

    def _rows(self) -> dict[str, dict[str, int]]:
        rows = {}
        for index, city in enumerate(CITIES):
            box = self.cities.bbox(index)
            if box:
                x, y, width, height = box
                rows[city] = {
                    "x": self.cities.winfo_rootx() + x,
                    "y": self.cities.winfo_rooty() + y,
                    "width": width,
                    "height": height,
                }
        return rows

    def _save(self) -> None:
        self.root.update_idletasks()
        chosen = self.cities.curselection()
        self.state.update(
            name=self.name.get(),
            password=self.password.get(),
            destination=CITIES[chosen[0]] if chosen else None,
            terms_view=list(self.terms.yview()),
            terms_read=self.confirm.cget("state") == "normal",
            widgets={
                name: self._box(widget)
                for name, widget in (
                    ("name", self.name),
                    ("password", self.password),
                    ("cities", self.cities),
                    ("terms", self.terms),
                    ("confirm", self.confirm),
                )
            },
            rows=self._rows(),
            screen=[self.root.winfo_screenwidth(), self.root.winfo_screenheight()],
        )
        save_state(self.state_path, self.state)

    def mark_ready(self) -> None:
        self.state["ready"] = True
        self._save()


def main(argv: list[str] | None = None) -> None:
    run_app(
        BookingForm,
        class_name="Booking",
        title="booking",
        description=__doc__.splitlines()[0],
        default_position=(0, 0),
        argv=argv,
    )


# ----------------------------------------------------------------------------- test side


class BookingApp(AppProcess):
    """The booking app running as a child process; ``state()`` reads its latest JSON."""

    module = "tests.support.booking_app"
    label = "the booking app"
    default_position = (0, 0)

    def box(self, widget: str) -> dict[str, int]:
        """A widget's box; ``row:CITY`` names a destination row."""
        state = self.state()
        return state["rows"][widget[4:]] if widget.startswith("row:") else state["widgets"][widget]


if __name__ == "__main__":
    main()
