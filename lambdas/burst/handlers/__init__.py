"""Lambda entry points: scaler, lifecycle, tokens (stacks/controller/functions.py)."""
