"""The notices' handling over in-memory ports: who is ours, duplicates, late and reordered
notices. The API server's own behaviour (evictions, PDBs) is in
tests/integration/test_interruption_e2e.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from burst.core.model import Instance, Node, NodeGroup, Pod, Taint
from burst.core.notices.events import RebalanceRecommendation, ScheduledChange, SpotInterruption
from burst.core.notices.marks import INTERRUPTED, REBALANCING, Drain
from burst.loop.lifecycle import Drainer
from burst.loop.notices import NoticeResult, continue_drains, handle
from burst.ports.aws import LifecycleResult
from burst.ports.cluster import ClusterView, DrainResult

T0 = datetime(2026, 11, 27, 3, 20, tzinfo=UTC)
GROUP = NodeGroup("f1", "f1.4xlarge", 0, 4, 1, instances=(Instance("i-1", "InService"),))


class Clock:
    def wall(self) -> datetime:
        return T0

    def monotonic(self) -> float:
        return 0.0


@dataclass
class Cluster:
    """ClusterReader, NodeWriter, NodeDrainer and Teller over one dict of nodes; each write
    says whether it changed anything, as the adapter's do."""

    nodes: dict[str, Node] = field(default_factory=dict)
    pods: dict[str, str] = field(default_factory=dict)  # pod -> node
    events: list[tuple[str, str]] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        return ClusterView(tuple(self.nodes.values()),
                           tuple(Pod(p, node=n) for p, n in self.pods.items()))

    def read_status(self) -> Mapping[str, str]:
        return {}

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        n = self.nodes[node]
        taints = n.taints if taint is None or taint in n.taints else (*n.taints, taint)
        changed = not n.unschedulable or taints != n.taints
        self.nodes[node] = replace(n, unschedulable=True, taints=taints)
        return changed

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        raise AssertionError("never given back")

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        n = self.nodes[node]
        merged = {**n.annotations, **{k: v for k, v in changes.items() if v is not None}}
        self.nodes[node] = replace(n, annotations=merged)
        return merged != n.annotations

    def drain(self, node: str, deadline: float) -> DrainResult:
        self.drained.append(node)
        evicted = tuple(p for p, n in self.pods.items() if n == node)
        self.pods = {p: n for p, n in self.pods.items() if n != node}
        return DrainResult(node, evicted=evicted)

    def delete_node(self, node: str, uid: str | None = None) -> bool:
        raise AssertionError("a notice never deletes the Node")

    def workload(self, node: str) -> tuple[str, ...]:
        return tuple(p for p, n in self.pods.items() if n == node)

    def record_node_event(self, node: str, reason: str, message: str, now: datetime,
                          kind: str = "Normal") -> int:
        self.events.append((node, reason))
        return 1

    def record_pod_event(self, pod: Pod, reason: str, message: str, now: datetime,
                         kind: str = "Normal") -> int:
        raise AssertionError("a notice tells the node, not its pods")

    def write_status(self, data: Mapping[str, str]) -> None:
        raise AssertionError("the status is the scaler's")


class NoActions:
    """LifecycleActions: a notice never completes or extends one (the hook's own event does)."""

    def complete_lifecycle_action(self, node_group: str, hook: str, instance_id: str,
                                  result: LifecycleResult, token: str | None = None) -> None:
        raise AssertionError("a notice completed a lifecycle action")

    def record_heartbeat(self, node_group: str, hook: str, instance_id: str,
                         token: str | None = None) -> None:
        raise AssertionError("a notice heartbeat a lifecycle action")


def world() -> tuple[Cluster, Drainer]:
    cluster = Cluster({"spot-1": Node("spot-1", node_group="f1", instance_id="i-1")},
                      {"ml/job": "spot-1"})
    return cluster, Drainer(cluster, cluster, NoActions(), Clock(), timedelta(minutes=10),
                            stop_at=60.0)


SPOT = SpotInterruption("e1", T0, "i-1", "terminate")
REBALANCE = RebalanceRecommendation("e2", T0 - timedelta(minutes=1), "i-1")


def test_a_spot_warning_marks_tells_and_drains_and_its_duplicate_changes_nothing() -> None:
    cluster, drainer = world()
    (first,) = handle(SPOT, cluster, cluster, drainer, [GROUP])
    node = cluster.nodes["spot-1"]
    evicted = first.drain and first.drain.evicted
    assert (first.result, evicted) == (NoticeResult.DRAINED, ("ml/job",))
    assert node.unschedulable and INTERRUPTED in node.annotations
    assert [t.key for t in node.taints] == [INTERRUPTED]
    assert cluster.events == [("spot-1", "SpotInterruption")]
    (again,) = handle(SPOT, cluster, cluster, drainer, [GROUP])
    assert again.result is NoticeResult.ALREADY_DONE and "duplicate" in again.reason
    assert cluster.events == [("spot-1", "SpotInterruption")]  # told once


def test_a_rebalance_marks_without_draining_and_one_after_an_interruption_is_ignored() -> None:
    cluster, drainer = world()
    (marked,) = handle(REBALANCE, cluster, cluster, drainer, [GROUP])
    assert marked.result is NoticeResult.MARKED and cluster.drained == []
    assert cluster.nodes["spot-1"].annotations[REBALANCING] == REBALANCE.time.isoformat()
    (dup,) = handle(replace(REBALANCE, time=T0), cluster, cluster, drainer, [GROUP])
    assert dup.result is NoticeResult.ALREADY_DONE
    # the first notice's time is kept: the bounded wait does not restart
    assert cluster.nodes["spot-1"].annotations[REBALANCING] == REBALANCE.time.isoformat()
    # GIVEN the interruption then comes: drained at once
    (spot,) = handle(SPOT, cluster, cluster, drainer, [GROUP])
    assert spot.result is NoticeResult.DRAINED and cluster.drained == ["spot-1"]
    # AND a rebalance delivered out of order after it changes nothing
    (late,) = handle(REBALANCE, cluster, cluster, drainer, [GROUP])
    assert late.result is NoticeResult.ALREADY_DONE and "already interrupted" in late.reason


def test_foreign_instances_and_gone_nodes_are_left_alone_and_say_why() -> None:
    cluster, drainer = world()
    health = ScheduledChange("e3", T0, ("i-1", "i-9"), "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED")
    del cluster.nodes["spot-1"]
    late, foreign = handle(health, cluster, cluster, drainer, [GROUP])
    assert (late.result, late.node_group) == (NoticeResult.LATE, "f1")
    assert foreign.result is NoticeResult.NOT_OURS and cluster.drained == []


def test_the_tick_drains_what_due_drains_chose_and_stops_at_its_deadline() -> None:
    cluster, drainer = world()
    due = (Drain("spot-1", "interrupted (spot-interruption)"),)
    (outcome,) = continue_drains(drainer, due, list(cluster.nodes.values()))
    assert (outcome.result, outcome.instance_id) == (NoticeResult.DRAINED, "i-1")
    late = replace(drainer, stop_at=0.0)
    assert continue_drains(late, due, list(cluster.nodes.values())) == ()
