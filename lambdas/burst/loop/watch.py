"""Watch mode: between the tick and shortly before the next one, reconcile on every settled
change of the pending FPGA pods, so a new pod is helped within seconds.

The scaler's minute (ARCHITECTURE.md): the scaler runs one at a time (reserved concurrency 1) and
EventBridge invokes it asynchronously. A tick that finds the previous invocation still
running is throttled: Lambda keeps it in its async queue and retries it with an interval
growing from 1 s up to 5 minutes, and discards it to the failure destination once it is older
than the maximum event age (60 s here). "How Lambda handles errors and retries with
asynchronous invocation", https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
So an invocation that runs a little over a minute pushes every later tick a little later
until one is dropped. `must_end` bounds an invocation by the next tick's due time, measured
from the tick's own `time`, whatever the Lambda deadline: a late tick watches less, and the
one after it starts on time (benchmarks/cpu/scaler_minute.py models a day of ticks).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from burst.core.model import PodOutcome
from burst.core.policy import SCALER_PERIOD
from burst.loop.clock import Clock
from burst.loop.config import RuntimeConfig
from burst.loop.result import Reconciled
from burst.ports.cluster import PendingWatcher


class Reconciler(Protocol):
    """What watch needs of the shell (burst.loop.reconcile.Shell)."""

    config: RuntimeConfig
    clock: Clock

    def reconcile(self, stop_at: float | None = None) -> Reconciled: ...


def must_end(tick_time: datetime, lambda_deadline: float, clock: Clock,
             period: timedelta = SCALER_PERIOD) -> float:
    """When an invocation for the tick stamped `tick_time` must be done (clock.monotonic
    scale): when the next tick is due, or at `lambda_deadline` if that comes first.

    EventBridge stamps a scheduled event with its scheduled time and delivers it at or after
    that time, so an invocation done by `tick_time + period` never finds the next tick
    waiting, however late its own tick was delivered.
    """
    next_due = (tick_time + period - clock.wall()).total_seconds()
    return min(lambda_deadline, clock.monotonic() + next_due)


def within(deadline: float, margin: timedelta, clock: Clock) -> float:
    """Seconds left before `deadline` less `margin` (clock.monotonic scale), never negative."""
    return max(0.0, deadline - margin.total_seconds() - clock.monotonic())


def watch(shell: Reconciler, watcher: PendingWatcher, version: str,
          deadline: float, last: Reconciled | None = None) -> list[Reconciled]:
    """Watch mode: until `deadline` less the margin (clock.monotonic scale), wait for a new
    or changed pending FPGA pod, let the batch settle, reconcile; the results, in order.

    A batch is acted on once no further change came for `watch.idle`, or `watch.max_batch`
    after its first change, so a burst of pods is planned together. While the last
    reconcile (`last`, then each one's own) left pods waiting for instances asked for, it
    also reconciles every `watch.recheck` without a pod change: a launch that failed
    meanwhile backs its group off, and the pods go to the next group at once, not a tick
    later (benchmarks/cluster/failover.py).
    """
    settings, clock = shell.config.watch, shell.clock
    results: list[Reconciled] = []
    waiting = last is not None and awaits_capacity(last)
    while (left := within(deadline, settings.margin, clock)) >= 1.0:
        wait = min(left, settings.recheck.total_seconds()) if waiting else left
        seen = watcher.next_pending_change(version, wait)
        if seen is None and (not waiting or wait >= left):
            continue  # the watch ran out; the loop condition decides whether to go on
        if seen is not None:
            _settle(watcher, seen, shell, deadline)
        result = shell.reconcile(stop_at=deadline - settings.margin.total_seconds())
        waiting = awaits_capacity(result)
        results.append(result)
        version = result.pending_version
    return results


# A deferred pod is rechecked too: once its wait is over, its scale-up goes ahead.
_AWAITING = (PodOutcome.SCALE_UP, PodOutcome.FITS_UPCOMING, PodOutcome.DEFERRED)


def awaits_capacity(result: Reconciled) -> bool:
    return any(d.outcome in _AWAITING for d in result.plan.pods)


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
