"""Durations in the words the decisions' reasons use (status ConfigMap, Events). Pure."""

from __future__ import annotations

from datetime import timedelta


def span(length: timedelta) -> str:
    """`45 s`, `5 min`, `1.5 h`: rounded to what a reader of a reason needs."""
    seconds = round(length.total_seconds())
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
