"""Which idle burst nodes to keep for the pods expected next. Pure.

Keeping an idle board costs its price by the second; giving it back and booting a new one
when the next pod comes costs the boot (billed while the instance boots, joins and its
device plugin starts) and makes that pod wait as long. So an idle board is worth keeping
while the next pod that would use it is expected sooner than a new boot would take: the
break-even of the rent-or-buy problem, with the arrival rate learned from the cluster's
recent FPGA pods (burst.core.scaledown.arrivals) instead of a fixed timer.

Idle boards serve arrivals in turn: free boards on burst nodes that are busy anyway come
first, then idle nodes, smallest first (a small instance strands fewer boards when it is
shared). The k-th idle board is expected to be needed after k / rate seconds; a node is
kept while all of its boards are expected to be needed within `policy.boot_estimate` (a
big node kept for one small pod would be held by that pod, every board paid, for as long
as it runs), and never longer than `policy.max_idle_time` idle, whatever the rate says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from burst.core.model import BoardResource, Node, NodeGroup, Policy, Snapshot
from burst.core.scaledown.arrivals import Arrivals, rate
from burst.core.scaledown.runtimes import Survival
from burst.core.scaleup.capacity import group_boards
from burst.core.words import span


@dataclass(frozen=True)
class Idle:
    """An idle burst node and since when it has been idle."""

    node: Node
    group: NodeGroup
    since: datetime


@dataclass(frozen=True)
class Verdict:
    keep: bool
    reason: str


def decide(
    idle: Sequence[Idle],
    snapshot: Snapshot,
    arrivals: Arrivals,
    policy: Policy,
    now: datetime,
    busy_free: Mapping[BoardResource, int],
) -> dict[str, Verdict]:
    """node name -> keep or give back, with the reason in words.

    `busy_free`: free boards per resource on burst nodes that run FPGA pods (they serve the
    next arrivals first and are not given back anyway).
    """
    verdicts: dict[str, Verdict] = {}
    pools: dict[BoardResource, list[Idle]] = {}
    for entry in idle:
        boards = group_boards(entry.group, snapshot.catalog)
        board = max(boards, key=lambda b: (boards[b], b)) if boards else ""
        pools.setdefault(board, []).append(entry)
    for board, entries in sorted(pools.items()):
        expected = rate(arrivals, board, now, policy.arrival_window)
        ahead = busy_free.get(board, 0)
        order = sorted(entries, key=lambda e: (_total(e, snapshot), -e.since.timestamp(),
                                               e.node.name))
        for entry in order:
            # All of its boards, not just the first: a node kept for fewer pods than it has
            # boards strands the rest for as long as those pods run.
            needed = expected.expected_in(ahead + _total(entry, snapshot))
            verdict = _verdict(entry, needed, policy, now)
            verdicts[entry.node.name] = verdict
            if verdict.keep:
                ahead += _total(entry, snapshot)
    return verdicts


def _verdict(entry: Idle, needed_in: float | None, policy: Policy, now: datetime) -> Verdict:
    idle_for = now - entry.since
    boot = policy.boot_estimate
    if idle_for >= policy.max_idle_time:
        return Verdict(False, f"idle for {span(idle_for)}, the most kept idle "
                              f"(max_idle_time {span(policy.max_idle_time)})")
    if needed_in is None:
        return Verdict(False, f"idle; no FPGA pod for its boards in the last "
                              f"{span(policy.arrival_window)}")
    if needed_in <= boot.total_seconds():
        return Verdict(True, f"kept idle: next FPGA pod for it expected in "
                             f"~{span(timedelta(seconds=needed_in))}; a new boot takes "
                             f"~{span(boot)}")
    return Verdict(False, f"idle; next FPGA pod for it expected in "
                          f"~{span(timedelta(seconds=needed_in))}, later than a new boot "
                          f"(~{span(boot)})")


def _total(entry: Idle, snapshot: Snapshot) -> int:
    return sum(group_boards(entry.group, snapshot.catalog).values())


def emptying(
    node: Node,
    ages: Sequence[float],
    used: int,
    arrivals: Arrivals,
    policy: Policy,
    now: datetime,
    estimate: Survival,
) -> str | None:
    """Why a partly busy burst node should take no new pods and empty as its pods finish,
    or None. `ages`: seconds its FPGA pods have run; `estimate`: the cluster's run times.

    A new pod on it keeps every board paid for as long as it outlasts the pods there now;
    an instance of its own costs one board for its run plus a boot. Run times are
    heavy-tailed: a pod that has run for hours is likely to run on for hours, and free
    boards beside it cost nothing more to fill with short pods, while a node whose pods are
    about to end would be held by a new one. Not emptying when arrivals are expected to
    fill its free boards within a boot anyway, or when the run times are not known yet."""
    boards = sum(node.allocatable.values())
    free = boards - used
    if free <= 0 or boards <= 1 or not node.allocatable:
        return None
    board = max(node.allocatable, key=lambda b: (node.allocatable[b], b))
    soon = rate(arrivals, board, now, policy.arrival_window).expected_in(free)
    if soon is not None and soon <= policy.boot_estimate.total_seconds():
        return None
    expected = estimate.outlasting(ages)
    if expected is None:
        return None
    longer, run = expected
    if boards * longer <= run + policy.boot_estimate.total_seconds():
        return None
    return (f"emptying: {free} of its {boards} boards idle; a new pod here would keep all "
            f"{boards} paid ~{span(timedelta(seconds=longer))} longer than its pods now "
            f"(the cluster's run times), where one of its own costs one board for "
            f"~{span(timedelta(seconds=run))} and a boot (~{span(policy.boot_estimate)})")
