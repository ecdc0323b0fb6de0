"""Spot interruption warnings, rebalance recommendations and AWS Health scheduled changes.

The lifecycle function (burst.handlers.lifecycle) hands each notice here; the scaler's tick
continues what a notice started (continue_drains). Marks and their meaning are in
burst.core.notices.marks.

- Interruption warning, scheduled change: mark the node interrupted (annotation, cordon,
  NoSchedule taint), tell its Events why, and drain it at once through the Eviction API
  (PDBs honoured), as the terminate hook does, until empty or out of invocation time. Only
  pods marked safe-to-evict=false are held (burst.core.scaledown.drainable.held). The
  Node is not deleted and no lifecycle action completed: the instance's own terminate hook
  still runs when EC2 takes it, and finds it empty.
- Rebalance recommendation: mark the node rebalancing (annotation with the notice's time,
  cordon, NoSchedule taint) and tell its Events. The scaler's next tick asks for the
  replacement capacity, and drains the node once that is there (or after a bounded wait).

An instance not in a managed group is ignored with a logged reason. A duplicate, late
(node already gone) or reordered notice is harmless and its summary says so. No I/O here
but through the ports.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from burst.core.errors import KubeNotFoundError
from burst.core.lifecycle import instance_groups, node_of
from burst.core.model import Node, NodeGroup
from burst.core.names import EventReason
from burst.core.notices import marks
from burst.core.notices.events import Notice, RebalanceRecommendation, SpotInterruption
from burst.loop.lifecycle import Drainer
from burst.ports.cluster import ClusterReader, DrainResult, Teller

log = logging.getLogger(__name__)


class NoticeResult(StrEnum):
    DRAINED = "drained"  # cordoned and every evictable pod gone
    DRAINING = "draining"  # out of invocation time or waiting on a PDB: the tick goes on
    HELD = "held"  # every other pod evicted; pods marked safe-to-evict=false stay
    MARKED = "marked"  # rebalancing: the scaler asks for the replacement, then drains
    ALREADY_DONE = "already-done"  # a duplicate or reordered notice: nothing new to do
    LATE = "late"  # no node for the instance: never joined or already gone
    NOT_OURS = "not-ours"  # not an instance of a managed node group: never touched


@dataclass(frozen=True)
class NoticeOutcome:
    """What one notice did to one instance: the summary the handler returns and logs."""

    notice: str  # "spot-interruption" | "rebalance" | "scheduled-change"
    instance_id: str
    result: NoticeResult
    reason: str
    node_group: str | None = None
    node: str | None = None
    drain: DrainResult | None = None

    def summary(self) -> dict[str, object]:
        found: dict[str, object] = {"notice": self.notice, "instance": self.instance_id,
                                    "result": self.result.value, "reason": self.reason}
        if self.node_group:
            found["nodeGroup"] = self.node_group
        if self.node:
            found["node"] = self.node
        if self.drain is not None:
            found.update(evicted=list(self.drain.evicted), remaining=list(self.drain.remaining),
                         left=self.drain.left())
        return found


def kind(notice: Notice) -> str:
    if isinstance(notice, SpotInterruption):
        return "spot-interruption"
    return "rebalance" if isinstance(notice, RebalanceRecommendation) else "scheduled-change"


def _reason(notice: Notice) -> str:
    """The node Event's reason and what it says."""
    if isinstance(notice, SpotInterruption):
        return EventReason.SPOT_INTERRUPTION
    if isinstance(notice, RebalanceRecommendation):
        return EventReason.REBALANCE_RECOMMENDATION
    return EventReason.SCHEDULED_CHANGE


def _message(notice: Notice) -> str:
    if isinstance(notice, SpotInterruption):
        return (f"EC2 will {notice.action} this Spot Instance at about "
                f"{notice.time.isoformat()} + 2 min: cordoned and draining (PDBs honoured)")
    if isinstance(notice, RebalanceRecommendation):
        return ("EC2 recommends rebalancing this Spot Instance: cordoned; its FPGA pods are "
                "moved once their replacement's boards are there, or after "
                f"{int(marks.REBALANCE_WAIT.total_seconds())} s")
    start = f" from {notice.start}" if notice.start else ""
    return (f"AWS Health scheduled {notice.type_code}{start}: cordoned and draining "
            "(PDBs honoured)")


def handle(notice: Notice, cluster: ClusterReader, teller: Teller, drainer: Drainer,
           groups: Sequence[NodeGroup]) -> tuple[NoticeOutcome, ...]:
    """One notice, for each instance it names. `groups`: the managed ones, as discovered now."""
    owner = {i.instance_id: g.name for g in groups for i in g.instances}
    view = cluster.observe(instance_groups(groups))
    return tuple(_one(notice, instance, owner.get(instance), view.nodes, teller, drainer)
                 for instance in notice.instance_ids)


def _one(notice: Notice, instance: str, group: str | None, nodes: Sequence[Node],
         teller: Teller, drainer: Drainer) -> NoticeOutcome:
    name = kind(notice)
    if group is None:
        why = "not an instance of a managed node group (someone else's, or already gone)"
        log.info("%s of %s: ignored: %s", name, instance, why,
                 extra={"instance": instance, "decision": "no action"})
        return NoticeOutcome(name, instance, NoticeResult.NOT_OURS, why)
    node = node_of(nodes, instance)
    if node is None:
        why = "no node for the instance (never joined, or already drained and deleted)"
        log.info("%s of %s: nothing to do: %s", name, instance, why,
                 extra={"instance": instance, "node_group": group, "decision": "no action"})
        return NoticeOutcome(name, instance, NoticeResult.LATE, why, group)
    try:
        if isinstance(notice, RebalanceRecommendation):
            return _rebalance(notice, node, group, teller, drainer)
        return _interrupt(notice, instance, node, group, teller, drainer)
    except KubeNotFoundError:
        return NoticeOutcome(name, instance, NoticeResult.LATE, "the node was deleted meanwhile",
                             group, node.name)


def _rebalance(notice: RebalanceRecommendation, node: Node, group: str, teller: Teller,
               drainer: Drainer) -> NoticeOutcome:
    name = kind(notice)
    if marks.INTERRUPTED in node.annotations:
        return NoticeOutcome(name, notice.instance_id, NoticeResult.ALREADY_DONE,
                       "already interrupted and draining (the rebalance came late)", group,
                       node.name)
    fresh = drainer.nodes.annotate_node(
        node.name, {marks.REBALANCING: node.annotations.get(
            marks.REBALANCING, notice.time.isoformat())})
    fresh = drainer.nodes.cordon(node.name, marks.rebalancing_taint()) or fresh
    if not fresh:
        return NoticeOutcome(name, notice.instance_id, NoticeResult.ALREADY_DONE,
                       "already marked rebalancing (a duplicate notice)", group, node.name)
    teller.record_node_event(node.name, _reason(notice), _message(notice), drainer.clock.wall())
    log.info("rebalance of %s: node %s marked", notice.instance_id, node.name,
             extra={"instance": notice.instance_id, "node": node.name,
                    "decision": "replacement first (next scaler tick), then drain"})
    return NoticeOutcome(name, notice.instance_id, NoticeResult.MARKED,
                   "cordoned; the scaler asks for the replacement, then drains", group,
                   node.name)


def _interrupt(notice: Notice, instance: str, node: Node, group: str, teller: Teller,
               drainer: Drainer) -> NoticeOutcome:
    name = kind(notice)
    fresh = drainer.nodes.annotate_node(node.name, {marks.INTERRUPTED: name})
    fresh = drainer.nodes.cordon(node.name, marks.interrupted_taint(name)) or fresh
    if fresh:
        teller.record_node_event(node.name, _reason(notice), _message(notice),
                                 drainer.clock.wall(), "Warning")
    outcome = drain(drainer, node.name, instance, name, group)
    if not fresh and outcome.result is NoticeResult.DRAINED and not (
            outcome.drain and outcome.drain.evicted):
        return NoticeOutcome(name, instance, NoticeResult.ALREADY_DONE,
                       "already interrupted and drained (a duplicate notice)", group,
                       node.name, outcome.drain)
    return outcome


def drain(drainer: Drainer, node: str, instance: str, name: str,
          group: str | None = None) -> NoticeOutcome:
    """Evict the node's pods (PDB-aware) until it is empty or `drainer.stop_at`. Pods marked
    safe-to-evict=false are held; the others are evicted all the same."""
    if drainer.clock.monotonic() >= drainer.stop_at:
        return NoticeOutcome(name, instance, NoticeResult.DRAINING, "out of invocation time",
                             group, node)
    result = drainer.drains.drain(node, drainer.stop_at)
    if result.empty:
        return NoticeOutcome(name, instance, NoticeResult.DRAINED, "cordoned and drained",
                             group, node, result)
    if result.done:
        why = "; ".join(f"{p} {w}" for p, w in sorted(result.held.items()))
        return NoticeOutcome(name, instance, NoticeResult.HELD,
                             f"every other pod evicted; held: {why}", group, node, result)
    why = ("waiting on PodDisruptionBudgets: " + "; ".join(sorted(result.blocked.values()))
           if result.blocked else "out of invocation time")
    log.info("%s of %s: drain of %s not finished: %s", name, instance, node, why,
             extra={"instance": instance, "node": node, "remaining": list(result.remaining),
                    "decision": "the scaler's tick goes on with it"})
    return NoticeOutcome(name, instance, NoticeResult.DRAINING, why, group, node, result)


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
        name = "rebalance" if each.reason.startswith("rebalance") else "interruption"
        log.info("draining marked node %s: %s", each.node, each.reason,
                 extra={"node": each.node, "decision": "drain"})
        outcomes.append(drain(drainer, each.node, instance, name,
                              node.node_group if node else None))
    return tuple(outcomes)
