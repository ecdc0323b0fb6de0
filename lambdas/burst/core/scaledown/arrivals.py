"""What the cluster's recent FPGA arrivals say about the next one. Pure.

Scale-down keeps an idle board only while a pod is expected to need it sooner than a new
instance could boot; that needs the rate at which FPGA pods arrive for burst capacity. The
controller keeps no state of its own, so the arrivals it has seen are written to the status
ConfigMap each tick (`to_data`) and read back the next (`from_data`); a lost or unreadable
record only makes the estimate start again from the pods visible now.

An *arrival* is a pod first seen pending, or first seen on a managed (burst) node: one
that on-prem boards did not absorb. It is counted once per board resource it could run on
in some node group (the pools that could serve it), in boards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from burst.core.errors import DemandError
from burst.core.model import BoardResource, Pod, Snapshot
from burst.core.scaledown import record
from burst.core.scaleup.capacity import group_boards
from burst.core.scaleup.fit import alternatives, placement_problem

# Entries kept per board resource: enough for a busy hour, bounded so the ConfigMap stays
# small (each entry is ~16 bytes of JSON).
MAX_ENTRIES = 2000


@dataclass(frozen=True)
class Arrivals:
    """Arrivals seen up to `seen_until`: board resource -> ((unix seconds, boards), ...)."""

    seen_until: datetime | None = None
    boards: Mapping[BoardResource, tuple[tuple[float, int], ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rate:
    """Boards per second a pool is expected to need, and what the estimate rests on."""

    per_second: float
    seen: int  # arrivals in the window
    since_last: float | None  # seconds since the last one; None: none seen

    def expected_in(self, boards: int) -> float | None:
        """Seconds until `boards` more boards are expected to be needed; None: never."""
        return boards / self.per_second if self.per_second > 0 else None


def observe(previous: Arrivals, snapshot: Snapshot, now: datetime, window: timedelta) -> Arrivals:
    """`previous` with the pods created since its `seen_until` added, and entries older
    than `window` dropped. Pods without a creation time are not counted."""
    managed = {n.name for n in snapshot.nodes if n.node_group is not None}
    start = now - window
    since = previous.seen_until if previous.seen_until is not None else start
    found: dict[BoardResource, list[tuple[float, int]]] = {
        board: [e for e in entries if e[0] >= start.timestamp()]
        for board, entries in previous.boards.items()
    }
    for pod in snapshot.pods:
        if pod.created is None or not since < pod.created <= now:
            continue
        if pod.node is not None and pod.node not in managed:
            continue  # on-prem took it: no burst capacity was needed
        for board, boards in _pools(pod, snapshot).items():
            found.setdefault(board, []).append((pod.created.timestamp(), boards))
    return Arrivals(
        seen_until=now,
        boards={b: tuple(sorted(e)[-MAX_ENTRIES:]) for b, e in sorted(found.items()) if e},
    )


def rate(arrivals: Arrivals, board: BoardResource, now: datetime, window: timedelta) -> Rate:
    """The boards per second of `board` pods expected next.

    The mean over `window`, but never more than one arrival's boards per the time since the
    last arrival: traces are bursty, and after a burst ends the window's mean would keep
    idle boards long after the burst is over.
    """
    start, moment = (now - window).timestamp(), now.timestamp()
    recent = [(t, b) for t, b in arrivals.boards.get(board, ()) if start <= t <= moment]
    if not recent:
        return Rate(0.0, 0, None)
    total = sum(b for _, b in recent)
    mean = total / window.total_seconds()
    since_last = max(moment - recent[-1][0], 1.0)
    return Rate(min(mean, (total / len(recent)) / since_last), len(recent), since_last)


def _pools(pod: Pod, snapshot: Snapshot) -> dict[BoardResource, int]:
    """Board resource -> boards, for each alternative some node group could host."""
    try:
        options = alternatives(pod, snapshot.catalog)
    except DemandError:
        return {}
    found: dict[BoardResource, int] = {}
    for group in snapshot.node_groups:
        if placement_problem(pod, group.labels, group.taints) is not None:
            continue
        boards = group_boards(group, snapshot.catalog)
        for alt in options:
            if boards.get(alt.board, 0) >= alt.boards:
                found[alt.board] = min(found.get(alt.board, alt.boards), alt.boards)
    return found


def to_data(arrivals: Arrivals) -> str:
    """Compact JSON for the status ConfigMap."""
    return record.compact({
        "seenUntil": arrivals.seen_until.isoformat() if arrivals.seen_until else None,
        "boards": {b: [[round(t), n] for t, n in e] for b, e in arrivals.boards.items()},
    })


def from_data(text: str | None) -> Arrivals:
    """The record `to_data` wrote; an empty Arrivals if missing or unreadable."""
    return record.read(text, _arrivals, Arrivals)


def _arrivals(data: Any) -> Arrivals:
    seen = data.get("seenUntil")
    return Arrivals(
        seen_until=datetime.fromisoformat(seen).astimezone(UTC) if seen else None,
        boards={
            str(b): tuple((float(t), int(n)) for t, n in entries)
            for b, entries in data.get("boards", {}).items()
        },
    )
