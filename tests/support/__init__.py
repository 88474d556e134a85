"""Test helpers shared by test folders: a real X server (xvfb) and a recorder Tk app (tk_app)."""
