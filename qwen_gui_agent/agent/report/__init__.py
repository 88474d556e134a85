"""A run as a self-contained HTML page: every step's screenshot, answer, action and where it landed."""
