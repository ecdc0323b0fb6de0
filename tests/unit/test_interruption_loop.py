"""The notices' handling over in-memory ports: who is ours, duplicates, late and reordered
notices, Health events ahead of their start and closed, several instances in one notice.
The API server's own behaviour (evictions, PDBs) is in
tests/integration/test_interruption_e2e.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from burst.core.errors import BurstError, KubeForbiddenError, KubeThrottledError
from burst.core.model import Instance, Node, NodeGroup, Pod, Taint
from burst.core.notices.kinds import Notice, NoticeKind
from burst.core.notices.marks import INTERRUPTED, REBALANCING, SCHEDULED, Drain, ScheduledMark
from burst.loop.lifecycle import Drainer
from burst.loop.notices import (
    NoticeOutcome,
    NoticeResult,
    Responder,
    continue_drains,
    first_error,
    handle,
)
from burst.ports.aws import LifecycleResult
from burst.ports.cluster import ClusterView, DrainResult
from burst.tools.harness.clock import FakeClock

T0 = datetime(2026, 11, 27, 3, 20, tzinfo=UTC)
GROUP = NodeGroup("f1", "f1.4xlarge", 0, 4, 2, instances=(
    Instance("i-1", "InService"), Instance("i-2", "InService")))
LEAD = timedelta(minutes=10)


@dataclass
class Cluster:
    """ClusterReader, NodeWriter, NodeDrainer and Teller over one dict of nodes; each write
    says whether it changed anything, and a cordon is fpga-burst's (its reasons, `owners`)
    only if it made it, as the adapter's do (burst.adapters.kube.nodes)."""

    nodes: dict[str, Node] = field(default_factory=dict)
    pods: dict[str, str] = field(default_factory=dict)  # pod -> node
    events: list[tuple[str, str]] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)
    failing: dict[str, BurstError] = field(default_factory=dict)  # node -> its cordon's error
    owners: dict[str, set[str]] = field(default_factory=dict)  # node -> our cordon's reasons

    def observe(self, instance_groups: Mapping[str, str]) -> ClusterView:
        return ClusterView(tuple(self.nodes.values()),
                           tuple(Pod(p, node=n) for p, n in self.pods.items()))

    def read_status(self) -> Mapping[str, str]:
        return {}

    def cordon(self, node: str, taint: Taint | None = None) -> bool:
        if node in self.failing:
            raise self.failing.pop(node)
        n, owners = self.nodes[node], self.owners.setdefault(node, set())
        if not n.unschedulable or (owners and taint is not None):
            owners.add(taint.key if taint else "drain")
        taints = n.taints if taint is None or taint in n.taints else (*n.taints, taint)
        changed = not n.unschedulable or taints != n.taints
        self.nodes[node] = replace(n, unschedulable=True, taints=taints)
        return changed

    def uncordon(self, node: str, taint_key: str | None = None) -> bool:
        assert taint_key is not None, "only a notice's own taint is ever taken off"
        n, owners = self.nodes[node], self.owners.setdefault(node, set())
        taints = tuple(t for t in n.taints if t.key != taint_key)
        held = bool(owners)
        owners.discard(taint_key)
        unschedulable = n.unschedulable and not (held and not owners)
        self.nodes[node] = replace(n, unschedulable=unschedulable, taints=taints)
        return unschedulable != n.unschedulable or taints != n.taints

    def annotate_node(self, node: str, changes: Mapping[str, str | None]) -> bool:
        n = self.nodes[node]
        merged = {k: v for k, v in {**n.annotations, **changes}.items() if v is not None}
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

    def record_status_event(self, reason: str, message: str, now: datetime,
                            kind: str = "Normal") -> int:
        self.events.append(("status", reason))
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


def world() -> tuple[Cluster, Responder]:
    cluster = Cluster({"spot-1": Node("spot-1", node_group="f1", instance_id="i-1"),
                       "spot-2": Node("spot-2", node_group="f1", instance_id="i-2")},
                      {"ml/job": "spot-1", "ml/other": "spot-2"})
    drainer = Drainer(cluster, cluster, NoActions(), FakeClock(T0), timedelta(minutes=10),
                      stop_at=60.0)
    return cluster, Responder(cluster, drainer, LEAD)


def notify(notice: Notice, cluster: Cluster, responder: Responder) -> tuple[NoticeOutcome, ...]:
    return handle(notice, cluster, [GROUP], responder)


SPOT = Notice(NoticeKind.SPOT_INTERRUPTION, "e1", T0, ("i-1",), what="terminate")
REBALANCE = Notice(NoticeKind.REBALANCE, "e2", T0 - timedelta(minutes=1), ("i-1",))


def health(status: str, start: datetime, *instances: str, event: str = "arn:e3") -> Notice:
    return Notice(NoticeKind.SCHEDULED_CHANGE, f"e-{status}", T0, instances or ("i-1",),
                  what="AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", start=start, status=status,
                  event=event)


def test_a_spot_warning_marks_tells_and_drains_and_its_duplicate_changes_nothing() -> None:
    cluster, responder = world()
    (first,) = notify(SPOT, cluster, responder)
    node = cluster.nodes["spot-1"]
    evicted = first.drain and first.drain.evicted
    assert (first.result, evicted) == (NoticeResult.DRAINED, ("ml/job",))
    assert node.unschedulable and INTERRUPTED in node.annotations
    assert [t.key for t in node.taints] == [INTERRUPTED]
    assert cluster.events == [("spot-1", "SpotInterruption")]
    (again,) = notify(SPOT, cluster, responder)
    assert again.result is NoticeResult.ALREADY_DONE and "duplicate" in again.reason
    assert cluster.events == [("spot-1", "SpotInterruption")]  # told once


def test_a_rebalance_marks_without_draining_and_one_after_an_interruption_is_ignored() -> None:
    cluster, responder = world()
    (marked,) = notify(REBALANCE, cluster, responder)
    assert marked.result is NoticeResult.MARKED and cluster.drained == []
    assert cluster.nodes["spot-1"].annotations[REBALANCING] == REBALANCE.time.isoformat()
    (dup,) = notify(replace(REBALANCE, time=T0), cluster, responder)
    assert dup.result is NoticeResult.ALREADY_DONE
    # the first notice's time is kept: the bounded wait does not restart
    assert cluster.nodes["spot-1"].annotations[REBALANCING] == REBALANCE.time.isoformat()
    # GIVEN the interruption then comes: drained at once
    (spot,) = notify(SPOT, cluster, responder)
    assert spot.result is NoticeResult.DRAINED and cluster.drained == ["spot-1"]
    # AND a rebalance delivered out of order after it changes nothing
    (late,) = notify(REBALANCE, cluster, responder)
    assert late.result is NoticeResult.ALREADY_DONE and "already interrupted" in late.reason


def test_foreign_instances_and_gone_nodes_are_left_alone_and_say_why() -> None:
    cluster, responder = world()
    del cluster.nodes["spot-1"]
    late, foreign = notify(health("open", T0, "i-1", "i-9"), cluster, responder)
    assert (late.result, late.node_group) == (NoticeResult.LATE, "f1")
    assert foreign.result is NoticeResult.NOT_OURS and cluster.drained == []


def test_the_tick_drains_what_due_drains_chose_as_the_kind_that_marked_it() -> None:
    cluster, responder = world()
    due = (Drain("spot-1", NoticeKind.SCHEDULED_CHANGE, "scheduled change: drained from x"),)
    (outcome,) = continue_drains(responder.drainer, due, list(cluster.nodes.values()))
    assert (outcome.result, outcome.instance_id, outcome.notice) == (
        NoticeResult.DRAINED, "i-1", NoticeKind.SCHEDULED_CHANGE)
    late = replace(responder.drainer, stop_at=0.0)
    assert continue_drains(late, due, list(cluster.nodes.values())) == ()


# -- AWS Health scheduled changes: upcoming, open, closed -------------------------------


def test_a_change_two_weeks_ahead_cordons_now_and_drains_nothing_until_its_start() -> None:
    cluster, responder = world()
    start = T0 + timedelta(days=14)
    (ahead,) = notify(health("upcoming", start), cluster, responder)
    node = cluster.nodes["spot-1"]
    # THEN the node is cordoned, tainted and told, and nothing is evicted
    assert ahead.result is NoticeResult.SCHEDULED and cluster.drained == []
    assert node.unschedulable and [t.key for t in node.taints] == [SCHEDULED]
    mark = ScheduledMark.read(node.annotations[SCHEDULED])
    assert mark == ScheduledMark({"arn:e3": start - LEAD})
    assert cluster.events == [("spot-1", "ScheduledChange")]
    # AND its `open` update with the same start changes nothing
    (again,) = notify(health("open", start), cluster, responder)
    assert again.result is NoticeResult.ALREADY_DONE and cluster.drained == []
    assert cluster.events == [("spot-1", "ScheduledChange")]


def test_a_change_starting_within_the_lead_drains_at_once() -> None:
    cluster, responder = world()
    (now,) = notify(health("open", T0 + LEAD - timedelta(seconds=1)), cluster, responder)
    assert now.result is NoticeResult.DRAINED and cluster.drained == ["spot-1"]
    assert now.drain is not None and now.drain.evicted == ("ml/job",)


def test_closed_undoes_the_cordon_its_event_made_and_only_that_events() -> None:
    cluster, responder = world()
    far = T0 + timedelta(days=14)
    notify(health("upcoming", far), cluster, responder)
    notify(health("upcoming", far + timedelta(days=1), event="arn:other"), cluster, responder)
    # WHEN an event that never marked the node closes: nothing changes
    (foreign,) = notify(health("closed", far, event="arn:never"), cluster, responder)
    assert foreign.result is NoticeResult.ALREADY_DONE
    # WHEN the first closes: the other still holds the node cordoned
    (one,) = notify(health("closed", far), cluster, responder)
    node = cluster.nodes["spot-1"]
    assert one.result is NoticeResult.RELEASED and node.unschedulable
    mark = ScheduledMark.read(node.annotations[SCHEDULED])
    assert mark is not None and set(mark.events) == {"arn:other"}
    # WHEN the other closes too: mark, taint and cordon are gone; no pod was evicted
    (two,) = notify(health("closed", far, event="arn:other"), cluster, responder)
    node = cluster.nodes["spot-1"]
    assert two.result is NoticeResult.RELEASED and "mark and taint removed" in two.reason
    assert (node.unschedulable, node.taints, SCHEDULED in node.annotations) == (False, (), False)
    assert cluster.drained == []
    # AND a duplicate of the closed update finds nothing to undo
    (dup,) = notify(health("closed", far, event="arn:other"), cluster, responder)
    assert dup.result is NoticeResult.ALREADY_DONE


def test_closed_leaves_a_cordon_that_was_there_before_or_that_another_mark_holds() -> None:
    cluster, responder = world()
    far = T0 + timedelta(days=14)
    # GIVEN spot-1 cordoned by an operator, spot-2 interrupted after the notice came
    cluster.nodes["spot-1"] = replace(cluster.nodes["spot-1"], unschedulable=True)
    notify(health("upcoming", far, "i-1", "i-2"), cluster, responder)
    notify(replace(SPOT, instance_ids=("i-2",)), cluster, responder)
    # WHEN the change closes
    operators, interrupted = notify(health("closed", far, "i-1", "i-2"), cluster, responder)
    # THEN both marks and their taints go, and both nodes stay cordoned
    assert (operators.result, interrupted.result) == (NoticeResult.RELEASED,) * 2
    assert all(n.unschedulable and SCHEDULED not in n.annotations
               and SCHEDULED not in {t.key for t in n.taints} for n in cluster.nodes.values())
    assert [t.key for t in cluster.nodes["spot-2"].taints] == [INTERRUPTED]


# -- several instances in one notice ----------------------------------------------------


def test_an_error_on_one_instance_is_kept_while_the_others_are_handled() -> None:
    cluster, responder = world()
    cluster.failing["spot-1"] = KubeThrottledError("patch node spot-1: 429 Too Many Requests")
    # WHEN a Health event names both instances and the first one's cordon is throttled
    first, second = notify(health("open", T0, "i-1", "i-2"), cluster, responder)
    # THEN the second is drained all the same, and the first's error is there to raise
    assert (first.result, second.result) == (NoticeResult.FAILED, NoticeResult.DRAINED)
    assert cluster.drained == ["spot-2"] and "KubeThrottledError" in first.reason
    assert first_error((first, second)) is first.error
    # AND Lambda's retry of the event finishes the first and finds the second done
    first, second = notify(health("open", T0, "i-1", "i-2"), cluster, responder)
    assert (first.result, second.result) == (NoticeResult.DRAINED, NoticeResult.ALREADY_DONE)


@pytest.mark.parametrize("errors", [
    (KubeForbiddenError("patch", 403, "Forbidden", "rbac"), KubeThrottledError("429")),
    (KubeThrottledError("429"), KubeForbiddenError("patch", 403, "Forbidden", "rbac")),
], ids=["transient second", "transient first"])
def test_the_error_raised_is_a_transient_one_if_any_so_that_lambda_retries(
    errors: tuple[BurstError, BurstError],
) -> None:
    outcomes = tuple(NoticeOutcome(NoticeKind.SCHEDULED_CHANGE, f"i-{n}", NoticeResult.FAILED,
                                   str(e), error=e) for n, e in enumerate(errors))
    assert isinstance(first_error(outcomes), KubeThrottledError)
    assert first_error(outcomes[:0]) is None
