"""The two clocks the loop reads, injected: wall time for decisions, monotonic for deadlines."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def wall(self) -> datetime:
        """Wall-clock time, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on the scale of NodeDrainer.drain's `deadline`."""
        ...


class SystemClock:
    """Wall clock for decisions and annotations; monotonic for deadlines."""

    def wall(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()
