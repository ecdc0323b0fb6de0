"""How long FPGA pods run, learned from the cluster's own. Pure.

A pending pod may wait for a board that a running pod is about to free instead of a new
instance (burst.core.scaledown.defer); that needs the chance that a pod which has run for some time
ends within the next seconds. Users give no durations: each reconcile notes the FPGA pods
running (with their `status.startTime`) and, when one is gone by the next, its run time.
Run times on real clusters are heavy-tailed (most short, a few for hours), so the chance is
read off their distribution, not a mean: a Kaplan-Meier estimate over the runs that ended
and, as runs known to last at least their age so far, those still going. Counting only the
ended ones would make every long-running pod look about to end.

The controller keeps no state of its own: the record is written to the status ConfigMap
with the arrivals (`to_data`) and read back the next time (`from_data`); lost, it starts
again from the pods running now.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate, repeat
from typing import Any

from burst.core.model import Pod, Snapshot
from burst.core.scaledown import record

# Ended runs kept: enough for a busy day's distribution, bounded so the ConfigMap stays
# small (each is a few bytes of JSON).
MAX_ENDED = 500
# No estimate from fewer runs known to have lasted at least as long as the pod asked about.
MIN_AT_RISK = 8
# Points at which `Survival.outlasting` weighs when the longest of a node's runs ends:
# geometric from 1 s to the longest run on record, fine where short runs crowd.
_GRID = 64
# A pod gone between two reconciles ended in between; after a long gap (the scaler did not
# run) its end is not known better than this after it was last seen.
_MAX_GAP_S = 60.0


@dataclass(frozen=True)
class Runs:
    """FPGA pods seen running (key -> (started, last seen), unix seconds) and the run
    seconds of those seen to end, oldest first."""

    running: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    ended: tuple[float, ...] = ()


def started(pod: Pod, runs: Runs) -> float | None:
    """When a pod started running (unix seconds): its status.startTime, else when it was
    first seen running; None if neither is known."""
    if pod.started is not None:
        return pod.started.timestamp()
    seen = runs.running.get(pod.uid or pod.name)
    return seen[0] if seen is not None else None


def observe(previous: Runs, snapshot: Snapshot, now: datetime) -> Runs:
    """`previous` with the FPGA pods running now, and the runs of those gone since ended."""
    moment = now.timestamp()
    running: dict[str, tuple[float, float]] = {}
    for pod in snapshot.pods:
        if pod.node is None or not pod.fpga_job:
            continue
        start = started(pod, previous)
        running[pod.uid or pod.name] = (start if start is not None else moment, moment)
    ended = list(previous.ended)
    for key, (began, last) in previous.running.items():
        if key not in running:
            end = last + min(moment - last, 2 * _MAX_GAP_S) / 2  # midway to now, at most
            ended.append(max(0.0, end - began))
    return Runs(running, tuple(ended[-MAX_ENDED:]))


@dataclass(frozen=True)
class Survival:
    """Kaplan-Meier: the share of runs lasting longer than t, as a step function."""

    times: tuple[float, ...]  # the distinct run times at which runs ended, ascending
    surviving: tuple[float, ...]  # S just after each of them
    lengths: tuple[float, ...]  # every run, ended or still going, ascending

    def share_beyond(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        return self.surviving[i - 1] if i else 1.0

    def ends_within(self, age: float, within: float) -> float | None:
        """The chance that a run `age` seconds old ends within `within` more seconds; None
        when fewer than MIN_AT_RISK runs are known to have lasted that long."""
        if len(self.lengths) - bisect.bisect_left(self.lengths, age) < MIN_AT_RISK:
            return None
        now = self.share_beyond(age)
        if now <= 0.0:
            return None
        return 1.0 - self.share_beyond(age + within) / now

    def outlasting(self, ages: Sequence[float]) -> tuple[float, float] | None:
        """(how long a new run is expected to outlast the longest remaining one of runs
        aged `ages`, how long a new run is expected to last), in seconds: E[max(0, R - L)]
        and E[R], R a new run, L the longest remaining. None with fewer than MIN_AT_RISK
        runs on record or none ended. Runs are counted as ending by the longest on record
        (the estimate knows nothing beyond it); a run older than all but MIN_AT_RISK on
        record is taken to outlast them, as far as the record tells.

        E[max(0, R - L)] = E[tail(L)], tail(l) the integral of the share of runs beyond
        y from l on; L is distributed as the product of the runs' chances to have ended
        by then (independent runs)."""
        if len(self.lengths) < MIN_AT_RISK or not self.times:
            return None
        horizon = self.lengths[-1]
        area = self._areas(horizon)
        total = area(horizon)
        inner = (horizon ** (k / _GRID) for k in range(1, _GRID)) if horizon > 1 else ()
        grid = [0.0, *inner, horizon]
        ended_by = [1.0] * len(grid)  # P(L <= x) at each grid point
        levels = (1.0, *self.surviving)  # share_beyond(t) is levels[bisect_right(times, t)]
        for age in ages:
            now = self.share_beyond(age) if self.ends_within(age, 0.0) is not None else 0.0
            if now <= 0.0:
                ended_by = [0.0] * len(grid)  # it outlasts the record: L beyond the horizon
                continue
            # ended_by[k] *= ends_within(age, grid[k]) (its checks done above) for each k,
            # share_beyond inlined as levels[bisect]: the same arithmetic, no Python loop.
            beyond = map(levels.__getitem__, map(bisect.bisect_right, repeat(self.times),
                                                 map(operator.add, repeat(age), grid[:-1])))
            ends = map(operator.sub, repeat(1.0), map(operator.truediv, beyond, repeat(now)))
            ended_by[:-1] = map(operator.mul, ended_by[:-1], ends)
            # ended_by[-1] stays: every run on record has ended by the longest of them
        expected = ended_by[0] * total
        areas = [area(x) for x in grid]  # each point ends one step and starts the next
        for k in range(1, len(grid)):
            mass = ended_by[k] - ended_by[k - 1]
            # tail() falls across the step: its mean over the step's two ends.
            expected += mass * (2 * total - areas[k - 1] - areas[k]) / 2
        return expected, total

    def _areas(self, horizon: float) -> Callable[[float], float]:
        """x -> the integral of share_beyond from 0 to min(x, horizon)."""
        edges = [0.0, *(t for t in self.times if t < horizon)]
        levels = [1.0, *self.surviving[:len(edges) - 1]]
        cumulative = [0.0]
        for k in range(1, len(edges)):
            cumulative.append(cumulative[-1] + levels[k - 1] * (edges[k] - edges[k - 1]))

        def area(x: float) -> float:
            x = min(x, horizon)
            k = bisect.bisect_right(edges, x) - 1
            return cumulative[k] + levels[k] * (x - edges[k])

        return area


def survival(runs: Runs, now: datetime) -> Survival:
    """The estimate from the ended runs and, censored at their age, the running ones."""
    moment = now.timestamp()
    ongoing = sorted(max(0.0, moment - began) for began, _ in runs.running.values())
    ended, times, later, counts = _ended_steps(runs.ended)
    # At risk at each time t: the ended runs not shorter than t (`later`) and the running
    # ones not younger. Each share is the one before times 1 - ended at t / at risk, in
    # order; map and accumulate only do it without a Python loop (the same arithmetic).
    younger = map(bisect.bisect_left, repeat(ongoing), times)
    at_risk = map(operator.sub, map(operator.add, later, repeat(len(ongoing))), younger)
    factors = map(operator.sub, repeat(1.0), map(operator.truediv, counts, at_risk))
    surviving = tuple(accumulate(factors, operator.mul))
    return Survival(times, surviving, tuple(sorted([*ended, *ongoing])))


@functools.lru_cache(maxsize=8)
def _ended_steps(
    ended: tuple[float, ...],
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[int, ...], tuple[int, ...]]:
    """The ended runs sorted; their distinct times; at each, how many ended runs are not
    shorter and how many ended at it. The record of ended runs changes only when a run
    ends, the running ones' ages every reconcile: this part is made once per record
    (keyed on the record itself, so nothing is invalidated by hand)."""
    tally = Counter(ended)  # counted without a Python loop: the record changes often
    times = tuple(sorted(tally))
    counts = tuple(map(tally.__getitem__, times))
    later = tuple(accumulate(reversed(counts)))[::-1]
    return tuple(sorted(ended)), times, later, counts


def to_data(runs: Runs) -> str:
    """Compact JSON for the status ConfigMap."""
    return record.compact(
        {"running": {k: [round(s), round(t)] for k, (s, t) in sorted(runs.running.items())},
         "ended": [round(r) for r in runs.ended]},
    )


def from_data(text: str | None) -> Runs:
    """The record `to_data` wrote; an empty Runs if missing or unreadable."""
    return record.read(text, _runs, Runs)


def _runs(data: Any) -> Runs:
    return Runs(
        {str(k): (float(s), float(t)) for k, (s, t) in data.get("running", {}).items()},
        tuple(float(r) for r in data.get("ended", ()))[-MAX_ENDED:],
    )
