"""Give back what boots for nobody: terminate with decrement the launching instances the
plan leaves unused (burst.core.scaledown.surplus), after a fresh read of the cluster.

The observation the plan was made from may be stale by the time we act: a pod may have
bound to the instance's Node, a Node may have joined, its boards may have come. So:

1. a candidate whose Node has joined is marked first: cordoned with the to-be-deleted
   taint (nothing new binds to it from then on) and annotated GIVEN_BACK with why, which
   the terminate hook's handler reads (burst.loop.lifecycle);
2. the cluster is read again (ClusterReader.observe, one call for all candidates);
3. each candidate is terminated with decrement (CapacityWriter.terminate_instance) only if
   the fresh read still finds it a candidate: no pod bound to its Node (DaemonSet and mirror
   pods aside), its Node not useful yet, and no Node joined since the observation (such a
   Node was not marked in step 1; the next reconcile looks again). Otherwise its mark is
   taken off and it stays.

Whatever fails is logged and kept in the failures; nothing is terminated without the fresh
read. Between the fresh read and the termination kube-scheduler binds nothing to a marked
Node (cordoned and tainted NoSchedule before the read) but a pod that tolerates every taint,
which the terminate hook then evicts through the Eviction API like any drain. Without a
Node, the instance has nowhere a pod could run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from burst.core.lifecycle import GIVEN_BACK, instance_groups
from burst.core.model import Snapshot
from burst.core.names import Metric
from burst.core.scaledown.surplus import Surplus, busy_nodes, candidate
from burst.core.scaledown.unneeded import TO_BE_DELETED, to_be_deleted_taint
from burst.loop.result import Log, MetricSink, attempt
from burst.ports.aws import CapacityWriter
from burst.ports.cluster import ClusterReader, NodeWriter


@dataclass(frozen=True)
class GiveBack:
    """The ports a give-back uses, and where it reports."""

    reader: ClusterReader
    nodes: NodeWriter
    capacity: CapacityWriter
    log: Log
    metrics: MetricSink

    def run(self, todo: Sequence[Surplus], snapshot: Snapshot, now: datetime,
            failures: list[str]) -> tuple[Surplus, ...]:
        """The instances of `todo` terminated with decrement."""
        if not todo:
            return ()
        marked: set[str] = {s.node for s in todo
                            if s.node is not None and self._mark(s, now, failures)}
        done, view = attempt(self.log, failures, "re-read the cluster before giving back",
                             partial(self.reader.observe,
                                     instance_groups(snapshot.node_groups)))
        if not done or view is None:
            for node in marked:
                self._unmark(node, failures)
            return ()
        fresh = replace(snapshot, nodes=view.nodes, pods=view.pods)
        given = []
        for s in todo:
            why = _still(s, snapshot, fresh, marked)
            if why is None and self._terminate(s, failures):
                given.append(s)
                continue
            if why is not None:
                self.log.info(f"give-back: instance {s.instance_id} kept: {why}",
                              extra={"decision": "keep", "instance": s.instance_id,
                                     "node_group": s.node_group, "reason": why})
            if s.node in marked:
                self._unmark(s.node, failures)
        return tuple(given)

    def _mark(self, s: Surplus, now: datetime, failures: list[str]) -> bool:
        node = s.node or ""
        done, _ = attempt(self.log, failures, f"node {node}: mark it given back",
                          lambda: (self.nodes.cordon(node, to_be_deleted_taint(now)),
                                   self.nodes.annotate_node(node, {GIVEN_BACK: s.reason})))
        return done

    def _unmark(self, node: str, failures: list[str]) -> None:
        attempt(self.log, failures, f"node {node}: take the give-back mark off",
                lambda: (self.nodes.uncordon(node, TO_BE_DELETED),
                         self.nodes.annotate_node(node, {GIVEN_BACK: None})))

    def _terminate(self, s: Surplus, failures: list[str]) -> bool:
        what = (f"give back {s.instance_id} ({s.node_group}"
                f"{f', node {s.node}' if s.node else ''}): {s.reason}")
        done, started = attempt(self.log, failures, what,
                                partial(self.capacity.terminate_instance, s.instance_id))
        if not (done and started):
            return False
        self.metrics.add_metric(name=Metric.LAUNCHES_GIVEN_BACK, unit="Count", value=1)
        self.log.info(what, extra={"decision": "give back", "instance": s.instance_id,
                                   "node_group": s.node_group, "node": s.node,
                                   "reason": s.reason})
        return True


def _still(s: Surplus, seen: Snapshot, fresh: Snapshot, marked: set[str]) -> str | None:
    """Why the fresh read keeps `s`, or None if it may go."""
    group = next((g for g in seen.node_groups if g.name == s.node_group), None)
    state = next((i.lifecycle_state for i in group.instances
                  if i.instance_id == s.instance_id), "") if group else ""
    node = next((n for n in fresh.nodes if n.instance_id == s.instance_id), None)
    if group is None:
        return "its node group is gone"
    if s.node is not None and s.node not in marked:
        return f"node {s.node} could not be marked first"
    if s.node is None and node is not None:
        return f"node {node.name} joined since the observation (the next reconcile looks again)"
    if candidate(group, s.instance_id, state, node, busy_nodes(fresh)):
        return None
    if node is not None and node.name in busy_nodes(fresh):
        bound = next(p.name for p in fresh.pods if p.node == node.name
                     and not (p.daemonset or p.mirror))
        return f"pod {bound} bound to node {node.name} since the observation"
    return "its node became useful since the observation"
