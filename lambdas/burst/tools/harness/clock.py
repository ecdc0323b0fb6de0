"""A clock for tests and models: time passes only when the caller says so.

It is a burst.loop.clock.Clock (`wall`, `monotonic`) and gives the `sleep` that the drain
and the lifecycle loop take, so a hook deadline of ten minutes passes in milliseconds and
every wait the code asked for is kept in `sleeps`. `sleep` and `advance` move both
readings; a test may also set `wall_time` or `mono` alone (a tick that arrives late).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A fixed start, so that what a test writes (annotations, Events) reads the same every run.
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    wall_time: datetime = START
    mono: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    @classmethod
    def starting_now(cls) -> FakeClock:
        """Starting at the real wall clock's current second: for what a real API server
        compares with its own clock (bootstrap-token expiry, Event times)."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def wall(self) -> datetime:
        return self.wall_time

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass on both readings."""
        self.mono += seconds
        self.wall_time += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """What the code under test calls to wait: kept, and time passes at once."""
        self.sleeps.append(seconds)
        self.advance(seconds)
