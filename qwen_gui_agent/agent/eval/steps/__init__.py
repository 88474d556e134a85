"""Step evals: recorded steps (our runs, AndroidControl-style episodes) asked again and scored action by action."""
