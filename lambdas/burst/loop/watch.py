"""Watch mode: between the tick and shortly before the next one, reconcile on every settled
change of the pending FPGA pods, so a new pod is helped within seconds."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from burst.loop.clock import Clock
from burst.loop.config import RuntimeConfig
from burst.loop.result import Result
from burst.ports.cluster import PendingWatcher


class Reconciler(Protocol):
    """What watch needs of the shell (burst.loop.reconcile.Shell)."""

    config: RuntimeConfig
    clock: Clock

    def reconcile(self, stop_at: float | None = None) -> Result: ...


def within(deadline: float, margin: timedelta, clock: Clock) -> float:
    """Seconds left before `deadline` less `margin` (clock.monotonic scale), never negative."""
    return max(0.0, deadline - margin.total_seconds() - clock.monotonic())


def watch(shell: Reconciler, watcher: PendingWatcher, version: str,
          deadline: float) -> list[Result]:
    """Watch mode: until `deadline` less the margin (clock.monotonic scale), wait for a new
    or changed pending FPGA pod, let the batch settle, reconcile; the results, in order.

    A batch is acted on once no further change came for `watch.idle`, or `watch.max_batch`
    after its first change, so a burst of pods is planned together.
    """
    settings, clock = shell.config.watch, shell.clock
    results: list[Result] = []
    while (left := within(deadline, settings.margin, clock)) >= 1.0:
        seen = watcher.next_pending_change(version, left)
        if seen is None:
            continue  # the watch ran out; the loop condition decides whether to go on
        _settle(watcher, seen, shell, deadline)
        result = shell.reconcile(stop_at=deadline - settings.margin.total_seconds())
        results.append(result)
        version = result.pending_version
    return results


def _settle(watcher: PendingWatcher, seen: str, shell: Reconciler, deadline: float) -> None:
    settings, clock = shell.config.watch, shell.clock
    first = clock.monotonic()
    while seen:  # "": the watch must restart from a fresh list, which reconcile makes
        batch_left = settings.max_batch.total_seconds() - (clock.monotonic() - first)
        wait = min(settings.idle.total_seconds(), batch_left,
                   within(deadline, settings.margin, clock))
        if wait <= 0:
            return
        following = watcher.next_pending_change(seen, wait)
        if following is None:
            return  # quiet for `idle`: the batch is complete
        seen = following
