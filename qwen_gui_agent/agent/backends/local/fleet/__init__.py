"""The fleet: many conversations decoding together on one model, rows joining and leaving between decode steps."""
