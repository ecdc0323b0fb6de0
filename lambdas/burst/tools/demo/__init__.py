"""`burst demo`: the seed tutorial's evaluation, run locally end to end (see story.py)."""
