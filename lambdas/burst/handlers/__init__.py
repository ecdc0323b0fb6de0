"""Lambda entry points: scaler, lifecycle, tokens (stacks/controller/construct.py)."""
