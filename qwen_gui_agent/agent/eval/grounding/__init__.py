"""Grounding evals: ScreenSpot-style data sets, one "where is X" question per item, scored against its box."""
