"""Recorded runs: the run directory format, the HTML report, CI replay and macros."""
