"""Offline evaluation: how well a model grounds elements and predicts steps, measured as published results are.

``agent eval grounding`` reads ScreenSpot / ScreenSpot-v2 / ScreenSpot-Pro files, ``agent eval steps``
recorded runs and AndroidControl-style episodes. Both append one result line per item to a
results file, so an interrupted eval resumes without asking the model again.
"""
