"""The scaler's records in its status ConfigMap (arrivals.py, runtimes.py): compact JSON,
read back as an empty record when missing or unreadable, so that a lost or damaged record
costs history, never a reconcile."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def compact(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def read(text: str | None, build: Callable[[Any], R], empty: Callable[[], R]) -> R:
    """`build` over the JSON `text`; `empty()` if `text` is missing, not JSON, or not the
    shape `build` reads (it raises ValueError, TypeError or AttributeError then)."""
    if not text:
        return empty()
    try:
        return build(json.loads(text))
    except (ValueError, TypeError, AttributeError):
        return empty()
