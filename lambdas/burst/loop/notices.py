"""Notices that an instance is going or at risk: Spot interruption warnings, rebalance
recommendations, AWS Health scheduled changes (burst.core.notices.kinds.NOTICES).

The lifecycle function (burst.handlers.lifecycle) hands each notice here; the scaler's tick
continues what a notice started (continue_drains). Marks and their meaning are in
burst.core.notices.marks. What each kind does is its entry's Response:

- DRAIN (interruption warning): mark the node interrupted (annotation, cordon, NoSchedule
  taint), tell its Events why, and drain it at once through the Eviction API (PDBs
  honoured), as the terminate hook does, until empty or out of invocation time. Only pods
  marked safe-to-evict=false are held (burst.core.scaledown.drainable.held). The Node is
  not deleted and no lifecycle action completed: the instance's own terminate hook
  still runs when EC2 takes it, and finds it empty.
- REBALANCE (rebalance recommendation): mark the node rebalancing (annotation with the
  notice's time, cordon, NoSchedule taint) and tell its Events. The scaler's next tick asks
  for the replacement capacity, and drains the node once that is there (or after a bounded
  wait).
- DRAIN_BEFORE_START (Health scheduled change, `upcoming` or `open`): mark the node
  scheduled (the event and when its drain begins: startTime less the lead), cordon and
  taint it, tell its Events; drain it once that time has come, here or on a scaler tick.
  A later `closed` update of the same event undoes that mark and its taint, and the
  cordon unless someone else made it or another reason of fpga-burst's still holds it.

Each instance a notice names is handled on its own: an error on one is kept in its outcome
(FAILED) and the others go on; the handler raises it once all are done. An instance not in
a managed group is ignored with a logged reason. A duplicate, late (node already gone) or
reordered notice is harmless and its summary says so. No I/O here but through the ports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import assert_never

from burst.core.errors import BurstError, KubeNotFoundError, TransientError
from burst.core.lifecycle import instance_groups, node_of
from burst.core.model import Node, NodeGroup
from burst.core.notices import marks
from burst.core.notices.kinds import CLOSED, NOTICES, Notice, NoticeKind, Response
from burst.loop.lifecycle import Drainer
from burst.ports.cluster import ClusterReader, DrainResult, Teller

log = logging.getLogger(__name__)


class NoticeResult(StrEnum):
    DRAINED = "drained"  # cordoned and every evictable pod gone
    DRAINING = "draining"  # out of invocation time or waiting on a PDB: the tick goes on
    HELD = "held"  # every other pod evicted; pods marked safe-to-evict=false stay
    MARKED = "marked"  # rebalancing: the scaler asks for the replacement, then drains
    SCHEDULED = "scheduled"  # cordoned; drained from the change's start less the lead
    RELEASED = "released"  # the change closed: its mark (and the cordon it made) undone
    ALREADY_DONE = "already-done"  # a duplicate or reordered notice: nothing new to do
    LATE = "late"  # no node for the instance: never joined or already gone
    NOT_OURS = "not-ours"  # not an instance of a managed node group: never touched
    FAILED = "failed"  # an error on this instance, raised once the others are done


@dataclass(frozen=True)
class NoticeOutcome:
    """What one notice did to one instance: the summary the handler returns and logs."""

    notice: NoticeKind
    instance_id: str
    result: NoticeResult
    reason: str
    node_group: str | None = None
    node: str | None = None
    drain: DrainResult | None = None
    error: BurstError | None = field(default=None, compare=False)  # FAILED: what to raise

    def summary(self) -> dict[str, object]:
        found: dict[str, object] = {"notice": self.notice.value, "instance": self.instance_id,
                                    "result": self.result.value, "reason": self.reason}
        if self.node_group:
            found["nodeGroup"] = self.node_group
        if self.node:
            found["node"] = self.node
        if self.drain is not None:
            found.update(evicted=list(self.drain.evicted), remaining=list(self.drain.remaining),
                         left=self.drain.left())
        return found


def first_error(outcomes: Sequence[NoticeOutcome]) -> BurstError | None:
    """The error to raise once every instance is done: a transient one before the others,
    so that Lambda retries the event (the instances done already are then already-done)."""
    errors = [o.error for o in outcomes if o.error is not None]
    transient = [e for e in errors if isinstance(e, TransientError)]
    return (transient or errors or [None])[0]


@dataclass(frozen=True)
class Responder:
    """Carries out a notice's Response on one node, through the drainer's ports."""

    teller: Teller
    drainer: Drainer
    lead: timedelta  # a scheduled change's drain begins this long before its startTime

    def respond(self, notice: Notice, instance: str, node: Node, group: str,
                at: datetime) -> NoticeOutcome:
        """`at`: when the notice takes effect (REBALANCE: its wait counts from it;
        DRAIN_BEFORE_START: the drain begins then)."""
        does = NOTICES[notice.kind].does
        match does:
            case Response.DRAIN:
                return self._interrupt(notice, instance, node, group)
            case Response.REBALANCE:
                return self._rebalance(notice, instance, node, group, at)
            case Response.DRAIN_BEFORE_START:
                return self._schedule(notice, instance, node, group, at)
            case _:
                assert_never(does)

    def _tell(self, notice: Notice, node: str, what: str, kind: str = "Normal") -> None:
        entry = NOTICES[notice.kind]
        self.teller.record_node_event(node, entry.reason, f"{entry.describe(notice)}: {what}",
                                      self.drainer.clock.wall(), kind)

    def _rebalance(self, notice: Notice, instance: str, node: Node, group: str,
                   since: datetime) -> NoticeOutcome:
        nodes = self.drainer.nodes
        if marks.INTERRUPTED in node.annotations:
            return NoticeOutcome(notice.kind, instance, NoticeResult.ALREADY_DONE,
                                 "already interrupted and draining (the rebalance came late)",
                                 group, node.name)
        fresh = nodes.annotate_node(node.name, {marks.REBALANCING: node.annotations.get(
            marks.REBALANCING, since.isoformat())})
        fresh = nodes.cordon(node.name, marks.rebalancing_taint()) or fresh
        if not fresh:
            return NoticeOutcome(notice.kind, instance, NoticeResult.ALREADY_DONE,
                                 "already marked rebalancing (a duplicate notice)", group,
                                 node.name)
        self._tell(notice, node.name, "cordoned; its FPGA pods are moved once their "
                   "replacement's boards are there, or after "
                   f"{int(marks.REBALANCE_WAIT.total_seconds())} s")
        log.info("rebalance of %s: node %s marked", instance, node.name,
                 extra={"instance": instance, "node": node.name,
                        "decision": "replacement first (next scaler tick), then drain"})
        return NoticeOutcome(notice.kind, instance, NoticeResult.MARKED,
                             "cordoned; the scaler asks for the replacement, then drains",
                             group, node.name)

    def _interrupt(self, notice: Notice, instance: str, node: Node,
                   group: str) -> NoticeOutcome:
        nodes, name = self.drainer.nodes, notice.kind.value
        fresh = nodes.annotate_node(node.name, {marks.INTERRUPTED: name})
        fresh = nodes.cordon(node.name, marks.interrupted_taint(name)) or fresh
        if fresh:
            self._tell(notice, node.name, "cordoned and draining (PDBs honoured)", "Warning")
        return self._drain_now(notice, instance, node, group, fresh)

    def _drain_now(self, notice: Notice, instance: str, node: Node, group: str,
                   fresh: bool) -> NoticeOutcome:
        outcome = drain(self.drainer, node.name, instance, notice.kind, group)
        if not fresh and outcome.result is NoticeResult.DRAINED and not (
                outcome.drain and outcome.drain.evicted):
            return NoticeOutcome(notice.kind, instance, NoticeResult.ALREADY_DONE,
                                 "already marked and drained (a duplicate notice)", group,
                                 node.name, outcome.drain)
        return outcome

    def _schedule(self, notice: Notice, instance: str, node: Node, group: str,
                  drain_from: datetime) -> NoticeOutcome:
        nodes, mark = self.drainer.nodes, _scheduled(node)
        events = {**(mark.events if mark else {}), notice.event: drain_from}
        fresh = nodes.annotate_node(
            node.name, {marks.SCHEDULED: marks.ScheduledMark(events).text()})
        # fpga-burst's cordon only if the node was schedulable (the adapter records it).
        fresh = nodes.cordon(node.name, marks.scheduled_taint()) or fresh
        when = drain_from.isoformat()
        if fresh:
            self._tell(notice, node.name, f"cordoned; drained from {when} (PDBs honoured)",
                       "Warning")
        if self.drainer.clock.wall() >= drain_from:
            return self._drain_now(notice, instance, node, group, fresh)
        result, why = ((NoticeResult.SCHEDULED, f"cordoned; drained from {when}") if fresh
                       else (NoticeResult.ALREADY_DONE, f"already scheduled to drain from {when}"))
        log.info("scheduled change of %s: node %s drained from %s", instance, node.name, when,
                 extra={"instance": instance, "node": node.name, "event": notice.event,
                        "decision": "drain before the change starts (scaler tick)"})
        return NoticeOutcome(notice.kind, instance, result, why, group, node.name)

    def release(self, notice: Notice, instance: str, node: Node, group: str) -> NoticeOutcome:
        """A closed event: undo the mark it left, and the cordon that mark made."""
        nodes, mark = self.drainer.nodes, _scheduled(node)
        if mark is None or notice.event not in mark.events:
            return NoticeOutcome(notice.kind, instance, NoticeResult.ALREADY_DONE,
                                 "nothing of this event's to undo (never marked, or undone)",
                                 group, node.name)
        rest = {e: t for e, t in mark.events.items() if e != notice.event}
        if rest:
            nodes.annotate_node(node.name, {marks.SCHEDULED: marks.ScheduledMark(rest).text()})
            why = "its mark removed; another scheduled change still holds the node"
        else:
            nodes.annotate_node(node.name, {marks.SCHEDULED: None})
            # Lifts the cordon only if fpga-burst made it and no other reason of its own
            # (an interruption, a rebalance, a drain, a scale-down) still holds it.
            nodes.uncordon(node.name, marks.SCHEDULED)
            why = ("its mark and taint removed, and its cordon unless someone else's or "
                   "another reason of fpga-burst's holds the node")
        self._tell(notice, node.name, why)
        log.info("scheduled change of %s closed: %s", instance, why,
                 extra={"instance": instance, "node": node.name, "event": notice.event,
                        "decision": "undo"})
        return NoticeOutcome(notice.kind, instance, NoticeResult.RELEASED, why, group,
                             node.name)


def _scheduled(node: Node) -> marks.ScheduledMark | None:
    text = node.annotations.get(marks.SCHEDULED)
    return marks.ScheduledMark.read(text) if text else None


def handle(notice: Notice, cluster: ClusterReader, groups: Sequence[NodeGroup],
           responder: Responder) -> tuple[NoticeOutcome, ...]:
    """One notice, for each instance it names, each on its own: an error on one is kept in
    its outcome (first_error). `groups`: the managed ones, as discovered now."""
    owner = {i.instance_id: g.name for g in groups for i in g.instances}
    view = cluster.observe(instance_groups(groups))
    return tuple(_each(notice, instance, owner.get(instance), view.nodes, responder)
                 for instance in notice.instance_ids)


def _each(notice: Notice, instance: str, group: str | None, nodes: Sequence[Node],
          responder: Responder) -> NoticeOutcome:
    try:
        return _one(notice, instance, group, nodes, responder)
    except BurstError as exc:
        log.warning("%s of %s: %s: %s", notice.kind, instance, type(exc).__name__, exc,
                    extra={"instance": instance, "decision": "go on with the other instances"})
        return NoticeOutcome(notice.kind, instance, NoticeResult.FAILED,
                             f"{type(exc).__name__}: {exc}", group, error=exc)


def _one(notice: Notice, instance: str, group: str | None, nodes: Sequence[Node],
         responder: Responder) -> NoticeOutcome:
    if group is None:
        why = "not an instance of a managed node group (someone else's, or already gone)"
        log.info("%s of %s: ignored: %s", notice.kind, instance, why,
                 extra={"instance": instance, "decision": "no action"})
        return NoticeOutcome(notice.kind, instance, NoticeResult.NOT_OURS, why)
    node = node_of(nodes, instance)
    if node is None:
        why = "no node for the instance (never joined, or already drained and deleted)"
        log.info("%s of %s: nothing to do: %s", notice.kind, instance, why,
                 extra={"instance": instance, "node_group": group, "decision": "no action"})
        return NoticeOutcome(notice.kind, instance, NoticeResult.LATE, why, group)
    try:
        return _dispatch(notice, instance, node, group, responder)
    except KubeNotFoundError:
        return NoticeOutcome(notice.kind, instance, NoticeResult.LATE,
                             "the node was deleted meanwhile", group, node.name)


def _dispatch(notice: Notice, instance: str, node: Node, group: str,
              responder: Responder) -> NoticeOutcome:
    """Each kind's own reading of its notice (when it takes effect, whether it undoes),
    then its entry's Response."""
    kind = notice.kind
    match kind:
        case NoticeKind.SPOT_INTERRUPTION | NoticeKind.REBALANCE:
            return responder.respond(notice, instance, node, group, notice.time)
        case NoticeKind.SCHEDULED_CHANGE:
            if notice.status == CLOSED:
                return responder.release(notice, instance, node, group)
            start = notice.start or notice.time  # the parser requires startTime
            return responder.respond(notice, instance, node, group, start - responder.lead)
        case _:
            assert_never(kind)


def drain(drainer: Drainer, node: str, instance: str, kind: NoticeKind,
          group: str | None = None) -> NoticeOutcome:
    """Evict the node's pods (PDB-aware) until it is empty or `drainer.stop_at`. Pods marked
    safe-to-evict=false are held; the others are evicted all the same."""
    if drainer.clock.monotonic() >= drainer.stop_at:
        return NoticeOutcome(kind, instance, NoticeResult.DRAINING, "out of invocation time",
                             group, node)
    result = drainer.drains.drain(node, drainer.stop_at)
    if result.empty:
        return NoticeOutcome(kind, instance, NoticeResult.DRAINED, "cordoned and drained",
                             group, node, result)
    if result.done:
        why = "; ".join(f"{p} {w}" for p, w in sorted(result.held.items()))
        return NoticeOutcome(kind, instance, NoticeResult.HELD,
                             f"every other pod evicted; held: {why}", group, node, result)
    why = ("waiting on PodDisruptionBudgets: " + "; ".join(sorted(result.blocked.values()))
           if result.blocked else "out of invocation time")
    log.info("%s of %s: drain of %s not finished: %s", kind, instance, node, why,
             extra={"instance": instance, "node": node, "remaining": list(result.remaining),
                    "decision": "the scaler's tick goes on with it"})
    return NoticeOutcome(kind, instance, NoticeResult.DRAINING, why, group, node, result)


def continue_drains(drainer: Drainer, due: Sequence[marks.Drain],
                    nodes: Sequence[Node]) -> tuple[NoticeOutcome, ...]:
    """For the scaler's tick: drain the marked nodes burst.core.notices.marks.due_drains chose."""
    by_name = {n.name: n for n in nodes}
    outcomes = []
    for each in due:
        if drainer.clock.monotonic() >= drainer.stop_at:
            break
        node = by_name.get(each.node)
        instance = node.instance_id if node and node.instance_id else ""
        log.info("draining marked node %s: %s", each.node, each.reason,
                 extra={"node": each.node, "notice": each.kind.value, "decision": "drain"})
        outcomes.append(drain(drainer, each.node, instance, each.kind,
                              node.node_group if node else None))
    return tuple(outcomes)
