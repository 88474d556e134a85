"""Recorded runs as training data: ms-swift rows, their images, a manifest and a README (``agent export``)."""
