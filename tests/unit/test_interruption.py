"""Interrupted, rebalancing and scheduled nodes: the planner's demand view and which drains
are due, each carrying the kind of notice that marked its node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from burst.core.catalog import F1_BOARD, default_catalog
from burst.core.model import Catalog, Instance, Node, NodeGroup, Pod, PodOutcome, Policy, Snapshot
from burst.core.notices.kinds import NoticeKind
from burst.core.notices.marks import (
    INTERRUPTED,
    REBALANCE_WAIT,
    REBALANCING,
    SCHEDULED,
    ScheduledMark,
    demand_view,
    due_drains,
    rebalancing_taint,
    scheduled_taint,
)
from burst.core.scaledown.unneeded import planning_view
from burst.core.scaleup.planner import plan

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CATALOG = Catalog(instance_types=default_catalog().instance_types)


def group(desired: int) -> NodeGroup:
    return NodeGroup("f1", "f1.4xlarge", 0, 4, desired, boards={F1_BOARD: 2},
                     instances=tuple(Instance(f"i-{i}", "InService") for i in range(desired)))


def rebalancing(since: datetime = NOW) -> Node:
    return Node("spot-0", node_group="f1", instance_id="i-0", unschedulable=True,
                taints=(rebalancing_taint(),), allocatable={F1_BOARD: 2},
                annotations={REBALANCING: since.isoformat()})


def job(name: str, node: str | None = "spot-0", boards: int = 2) -> Pod:
    return Pod(f"ml/{name}", node=node, requests={F1_BOARD: boards})


def test_a_rebalancing_nodes_fpga_pods_are_planned_elsewhere_and_raise_capacity() -> None:
    # GIVEN a rebalancing node running one 2-board job, and a plain web pod, no other node
    web = Pod("ml/web", node="spot-0")
    snapshot = Snapshot((group(1),), (rebalancing(),), (job("a"), web), CATALOG)
    # WHEN the scaler plans
    found = plan(demand_view(planning_view(snapshot)), Policy())
    # THEN the job (not the web pod, not a DaemonSet) is demand, and the group grows by one
    assert [d.pod for d in found.pods] == ["ml/a"]
    assert [(u.from_size, u.to_size) for u in found.scale_ups] == [(1, 2)]
    # AND nothing is drained yet: the replacement has not come
    assert due_drains(snapshot, found, NOW) == ()


def test_a_rebalancing_node_is_drained_once_its_pods_fit_on_the_replacements_boards() -> None:
    replacement = Node("spot-1", node_group="f1", instance_id="i-1", allocatable={F1_BOARD: 2})
    snapshot = Snapshot((group(2),), (rebalancing(), replacement), (job("a"),), CATALOG)
    found = plan(demand_view(planning_view(snapshot)), Policy())
    assert [(d.outcome, d.node) for d in found.pods] == [(PodOutcome.FITS_EXISTING, "spot-1")]
    (drain,) = due_drains(snapshot, found, NOW)
    assert drain.node == "spot-0" and "fits on boards already there" in drain.reason
    assert drain.kind is NoticeKind.REBALANCE


def test_a_rebalancing_node_waits_while_its_replacement_boots_then_at_most_the_bound() -> None:
    # GIVEN the replacement is on its way (desired 2, one node registered)
    snapshot = Snapshot((group(2),), (rebalancing(),), (job("a"),), CATALOG)
    found = plan(demand_view(planning_view(snapshot)), Policy())
    assert [d.outcome for d in found.pods] == [PodOutcome.FITS_UPCOMING]
    assert not found.scale_ups  # asked for once, not again on every tick
    assert due_drains(snapshot, found, NOW + REBALANCE_WAIT - timedelta(seconds=1)) == ()
    # THEN after the bounded wait it is drained anyway
    (drain,) = due_drains(snapshot, found, NOW + REBALANCE_WAIT)
    assert "no replacement within 600 s" in drain.reason


def test_an_interrupted_node_is_drained_on_every_tick_until_empty_and_not_counted_twice() -> None:
    node = Node("spot-0", node_group="f1", instance_id="i-0", unschedulable=True,
                allocatable={F1_BOARD: 2},
                annotations={INTERRUPTED: "spot-interruption", REBALANCING: NOW.isoformat()})
    ds = Pod("kube-system/plugin", node="spot-0", daemonset=True)
    snapshot = Snapshot((group(1),), (node,), (job("a"), ds), CATALOG)
    # Its pods are being evicted: their controllers' new pods are the demand, not twins.
    assert demand_view(snapshot) == snapshot
    found = plan(snapshot, Policy())
    assert [(d.node, d.kind) for d in due_drains(snapshot, found, NOW)] == [
        ("spot-0", NoticeKind.SPOT_INTERRUPTION)]
    # Once only the DaemonSet pod is left there is nothing to drain.
    empty = Snapshot((group(1),), (node,), (ds,), CATALOG)
    assert due_drains(empty, plan(empty, Policy()), NOW) == ()


def test_an_unreadable_rebalance_time_does_not_make_the_node_wait_forever() -> None:
    node = Node("spot-0", node_group="f1", instance_id="i-0", unschedulable=True,
                taints=(rebalancing_taint(),), annotations={REBALANCING: "yesterday"})
    snapshot = Snapshot((group(1),), (node,), (job("a"),), CATALOG)
    found = plan(demand_view(snapshot), Policy())
    assert [d.node for d in due_drains(snapshot, found, NOW)] == ["spot-0"]


def scheduled(mark: str) -> Snapshot:
    node = Node("spot-0", node_group="f1", instance_id="i-0", unschedulable=True,
                taints=(scheduled_taint(),), annotations={SCHEDULED: mark})
    return Snapshot((group(1),), (node,), (job("a"),), CATALOG)


def test_a_scheduled_node_is_drained_from_its_earliest_events_start_less_the_lead_on() -> None:
    # GIVEN two Health events pending on the node, the earlier drain from NOW + 1 h
    mark = ScheduledMark({"arn:e1": NOW + timedelta(days=14),
                          "arn:e2": NOW + timedelta(hours=1)})
    assert ScheduledMark.read(mark.text()) == mark
    snapshot = scheduled(mark.text())
    found = plan(snapshot, Policy())
    # THEN it waits until then, and is drained from then on, as a scheduled change
    assert due_drains(snapshot, found, NOW + timedelta(minutes=59)) == ()
    (drain,) = due_drains(snapshot, found, NOW + timedelta(hours=1))
    assert (drain.node, drain.kind) == ("spot-0", NoticeKind.SCHEDULED_CHANGE)
    assert (NOW + timedelta(hours=1)).isoformat() in drain.reason


def test_an_unreadable_scheduled_mark_is_drained_rather_than_left_waiting() -> None:
    for text in ("soon", '{"events": {}}', '{"events": {"e": "x"}}',
                 '{"events": {"e": "2026-11-27T12:00:00"}}'):
        assert ScheduledMark.read(text) is None
        snapshot = scheduled(text)
        assert [d.kind for d in due_drains(snapshot, plan(snapshot, Policy()), NOW)] == [
            NoticeKind.SCHEDULED_CHANGE]


def test_an_interrupted_mark_of_an_unknown_kind_still_drains_at_once() -> None:
    node = Node("spot-0", node_group="f1", instance_id="i-0", unschedulable=True,
                annotations={INTERRUPTED: "from-a-newer-version"})
    snapshot = Snapshot((group(1),), (node,), (job("a"),), CATALOG)
    (drain,) = due_drains(snapshot, plan(snapshot, Policy()), NOW)
    assert drain.kind is NoticeKind.SPOT_INTERRUPTION and "from-a-newer-version" in drain.reason
