"""Recorded runs on disk: the run directory format (run.json, steps.jsonl, images) and corrections (labels) beside it."""
