"""Nodes whose instance is going (a Spot interruption, an AWS Health scheduled change) or
may go soon (a rebalance recommendation): their marks, and the scaler's view of them.

Level-triggered: the lifecycle function only marks a node (annotation + NoSchedule taint,
named here) and, when its drain is due, starts it; every scaler tick then reads the marks
back from the nodes and decides again (`due_drains`), so a lost, duplicated or reordered
notice changes nothing the next tick would not redo. One mark per Response of
burst.core.notices.kinds:

- Interrupted (`INTERRUPTED`, its value the notice's kind; Response.DRAIN): drained at
  once, through evictions (PDB-aware), until empty.
- Rebalancing (`REBALANCING`, its value the notice's time; Response.REBALANCE): its FPGA
  pods count as demand elsewhere (`demand_view`), so the planner asks for their replacement
  capacity on the next tick; the node is drained once every one of them fits on another
  node's advertised boards, or after REBALANCE_WAIT, whichever comes first.
- Scheduled (`SCHEDULED`, a ScheduledMark; Response.DRAIN_BEFORE_START): cordoned, and
  drained from the earliest of its events' start less the lead, until empty.

Pure: no clock, no I/O; `now` and the snapshot are given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from burst.core.model import Node, Plan, Pod, PodDecision, PodOutcome, Snapshot, Taint
from burst.core.notices.kinds import NoticeKind

INTERRUPTED = "fpga-burst.io/interrupted"  # annotation and taint key; value: the notice kind
REBALANCING = "fpga-burst.io/rebalancing"  # annotation (the notice's time) and taint key
SCHEDULED = "fpga-burst.io/scheduled-change"  # annotation (a ScheduledMark) and taint key
# How long a rebalancing node waits for its replacement's boards before it is drained anyway:
# about two boots of an FPGA instance (Policy.boot_estimate's default is 5 minutes). EC2
# may interrupt it at any time after the recommendation, with two minutes' notice.
REBALANCE_WAIT = timedelta(minutes=10)


def interrupted_taint(kind: str) -> Taint:
    return Taint(INTERRUPTED, kind, "NoSchedule")


def rebalancing_taint() -> Taint:
    return Taint(REBALANCING, "", "NoSchedule")


def scheduled_taint() -> Taint:
    return Taint(SCHEDULED, "", "NoSchedule")


@dataclass(frozen=True)
class ScheduledMark:
    """The AWS Health scheduled changes pending on a node: each event's ARN -> when the
    node's drain for it begins. (Whose cordon it is, the adapter keeps: NodeWriter.uncordon
    lifts only a cordon fpga-burst made and no other reason of its own still holds.)"""

    events: Mapping[str, datetime]

    @property
    def drain_from(self) -> datetime:
        return min(self.events.values())

    def text(self) -> str:
        return json.dumps({"events": {e: t.isoformat() for e, t in sorted(self.events.items())}},
                          separators=(",", ":"))

    @classmethod
    def read(cls, text: str) -> ScheduledMark | None:
        """The mark an annotation holds; None if it is unreadable or names no event."""
        try:
            events = {str(e): datetime.fromisoformat(t)
                      for e, t in json.loads(text)["events"].items()}
        except (ValueError, TypeError, KeyError, AttributeError):
            return None
        if not events or any(t.tzinfo is None for t in events.values()):
            return None
        return cls(events)


def evictable(pods: Iterable[Pod], node: str) -> tuple[Pod, ...]:
    """Pods a drain of `node` would evict: not DaemonSet pods, not mirror pods."""
    return tuple(p for p in pods if p.node == node and not p.daemonset and not p.mirror)


def _fpga(pod: Pod) -> bool:
    return bool(pod.requests or pod.accelerators)


def _rebalancing(node: Node) -> bool:
    return REBALANCING in node.annotations and INTERRUPTED not in node.annotations


def demand_view(snapshot: Snapshot) -> Snapshot:
    """The snapshot with a pending twin of every FPGA pod on a rebalancing node.

    The planner then asks for their boards elsewhere, as for any pending pod (the node
    itself is cordoned and tainted, so it offers none). Twins keep the pod's name, so the
    plan's decision names the pod that is about to move; they count among the plan's
    pending pods (the status, PendingFpgaPods) but get no pod Event, not being pending.
    """
    marked = {n.name for n in snapshot.nodes if _rebalancing(n)}
    if not marked:
        return snapshot
    twins = tuple(replace(p, node=None) for p in snapshot.pods
                  if p.node in marked and p.fpga_job)
    return replace(snapshot, pods=(*snapshot.pods, *twins))


@dataclass(frozen=True)
class Drain:
    """A marked node whose drain is due, and the kind of notice that marked it."""

    node: str
    kind: NoticeKind
    reason: str


def due_drains(snapshot: Snapshot, plan: Plan, now: datetime) -> tuple[Drain, ...]:
    """Marked nodes to drain now: `plan` made on demand_view(...) of this snapshot."""
    decisions = {d.pod: d for d in plan.pods}
    # The pods by node once, in the snapshot's order: evictable() per node was quadratic.
    on_node: dict[str, list[Pod]] = {}
    for pod in snapshot.pods:
        if pod.node is not None:
            on_node.setdefault(pod.node, []).append(pod)
    found = []
    for node in snapshot.nodes:
        pods = evictable(on_node.get(node.name, ()), node.name)
        due = _due(node, pods, decisions, now) if pods else None
        if due is not None:
            found.append(due)
    return tuple(found)


def _due(node: Node, pods: tuple[Pod, ...], decisions: dict[str, PodDecision],
         now: datetime) -> Drain | None:
    marks = node.annotations
    if INTERRUPTED in marks:
        return Drain(node.name, _kind(marks[INTERRUPTED]), f"interrupted ({marks[INTERRUPTED]})")
    if SCHEDULED in marks:
        mark = ScheduledMark.read(marks[SCHEDULED])
        # Unreadable: treated as due, so the node does not wait for a start it cannot know.
        if mark is None or mark.drain_from <= now:
            since = mark.drain_from.isoformat() if mark else "an unreadable mark"
            return Drain(node.name, NoticeKind.SCHEDULED_CHANGE,
                         f"scheduled change: drained from {since}")
    if REBALANCING in marks:
        why = _rebalance_due(node, pods, decisions, now)
        return Drain(node.name, NoticeKind.REBALANCE, why) if why else None
    return None


def _kind(text: str) -> NoticeKind:
    try:
        return NoticeKind(text)
    except ValueError:
        return NoticeKind.SPOT_INTERRUPTION  # an interrupted node drains whatever marked it


def _rebalance_due(node: Node, pods: tuple[Pod, ...], decisions: dict[str, PodDecision],
                   now: datetime) -> str | None:
    placed = [decisions.get(p.name) for p in pods if _fpga(p)]
    if all(d is not None and d.outcome is PodOutcome.FITS_EXISTING and d.node != node.name
           for d in placed):
        return "rebalance: every FPGA pod of it fits on boards already there"
    since = _since(node.annotations[REBALANCING])
    if since is None or now - since >= REBALANCE_WAIT:
        return f"rebalance: no replacement within {int(REBALANCE_WAIT.total_seconds())} s"
    return None


def _since(text: str) -> datetime | None:
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        return None  # unreadable: treated as long past, so the node does not wait forever
    return found if found.tzinfo else None
