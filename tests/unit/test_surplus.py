"""Which launching instances no pending pod needs (burst.core.scaledown.surplus): the
planner's own accounting of upcoming capacity decides, one rule per test."""

from __future__ import annotations

from dataclasses import replace

import pytest

from burst.core.catalog import default_catalog
from burst.core.model import Instance, Node, NodeGroup, Plan, Pod, Policy, Snapshot
from burst.core.scaledown.surplus import REASON, Surplus, surplus
from burst.core.scaleup.planner import plan
from burst.core.spot import CAPACITY_TYPE_LABEL, SPOT

CATALOG = default_catalog()
BOARD = "xilinx/aws-vu9p-f1"
POLICY = Policy()


def group(name: str, states: dict[str, str], *, spot: bool = False) -> NodeGroup:
    labels = {CAPACITY_TYPE_LABEL: SPOT} if spot else {}
    return NodeGroup(name, "f1.2xlarge", 0, 10, len(states), labels=labels,
                     instances=tuple(Instance(i, s) for i, s in states.items()))


def pending(name: str, boards: int = 1) -> Pod:
    return Pod(f"ml/{name}", requests={BOARD: boards})


def node(name: str, instance_id: str, group_name: str = "f1", *, boards: int = 0,
         ready: bool = True) -> Node:
    return Node(name, group_name, ready=ready, instance_id=instance_id,
                allocatable={BOARD: boards} if boards else {})


def decide(snapshot: Snapshot) -> tuple[Surplus, ...]:
    return surplus(snapshot, plan(snapshot, POLICY))


def snap(groups: tuple[NodeGroup, ...], nodes: tuple[Node, ...] = (),
         pods: tuple[Pod, ...] = ()) -> Snapshot:
    return Snapshot(node_groups=groups, nodes=nodes, pods=pods, catalog=CATALOG)


LAUNCHING = {"i-1": "Pending:Wait", "i-2": "Pending:Wait"}


def test_launching_instances_no_pending_pod_is_planned_onto_are_surplus() -> None:
    # GIVEN two f1.2xlarge (one board each) still launching and no pending pod
    # WHEN the plan is made THEN both are given back, with why
    found = decide(snap((group("f1", LAUNCHING),)))
    assert found == (Surplus("i-1", "f1", None, REASON), Surplus("i-2", "f1", None, REASON))


def test_an_instance_a_pending_pod_is_planned_onto_is_kept() -> None:
    # GIVEN one pending pod of one board: the plan places it on one of the two
    found = decide(snap((group("f1", LAUNCHING),), pods=(pending("a"),)))
    assert [s.instance_id for s in found] == ["i-1"]


def test_every_instance_is_kept_when_the_pending_pods_need_them_all() -> None:
    pods = (pending("a"), pending("b"))
    assert decide(snap((group("f1", LAUNCHING),), pods=pods)) == ()


def test_a_pod_served_on_prem_leaves_the_instance_launched_for_it_surplus() -> None:
    # GIVEN a free on-prem board the pending pod fits: the plan puts it there
    onprem = Node("onprem-1", None, allocatable={BOARD: 1})
    found = decide(snap((group("f1", {"i-1": "Pending:Wait"}),), (onprem,), (pending("a"),)))
    assert [s.instance_id for s in found] == ["i-1"]


@pytest.mark.parametrize("daemonset", [False, True], ids=["pod", "daemonset-pod"])
def test_a_node_with_any_pod_bound_is_never_surplus_daemonset_pods_aside(
        daemonset: bool) -> None:
    # GIVEN i-1's Node has joined without boards and a pod (not an FPGA one) runs there
    joined = node("ip-1", "i-1")
    bound = Pod("kube-system/agent", node="ip-1", daemonset=daemonset)
    found = decide(snap((group("f1", LAUNCHING),), (joined,), (bound,)))
    ids = [s.instance_id for s in found]
    assert ("i-1" in ids) is daemonset
    assert "i-2" in ids


def test_a_joined_node_without_boards_is_surplus_and_named_after_the_unjoined() -> None:
    # Those furthest from serving go first: no Node, then a Node not Ready, then one
    # without boards.
    states = {"i-1": "Pending:Wait", "i-2": "Pending:Wait", "i-3": "Pending:Wait"}
    nodes = (node("ip-1", "i-1"), node("ip-2", "i-2", ready=False))
    snapshot = snap((group("f1", states),), nodes, (pending("a"),))
    assert [(s.instance_id, s.node) for s in decide(snapshot)] == [("i-3", None),
                                                                   ("i-2", "ip-2")]


@pytest.mark.parametrize("state", ["InService", "Terminating", "Terminating:Wait",
                                   "Terminating:Proceed", "Terminated"])
def test_only_launching_instances_are_given_back(state: str) -> None:
    assert decide(snap((group("f1", {"i-1": state}),))) == ()


def test_a_node_that_advertises_its_boards_is_capacity_not_surplus() -> None:
    # Its launch is about to be completed; scale-down decides about it once it idles.
    useful = node("ip-1", "i-1", boards=1)
    assert decide(snap((group("f1", {"i-1": "Pending:Wait"}),), (useful,))) == ()


def test_on_prem_nodes_are_never_touched() -> None:
    onprem = Node("onprem-1", None, allocatable={BOARD: 1})
    assert decide(snap((), (onprem,))) == ()


def test_spot_and_on_demand_groups_are_each_counted_on_their_own() -> None:
    # GIVEN a Spot and an on-demand group each launching one instance, and a pod that only
    # runs on-demand: the Spot instance is given back, the on-demand one kept
    spot_group = group("f1-spot", {"i-s": "Pending:Wait"}, spot=True)
    on_demand = replace(group("f1", {"i-o": "Pending:Wait"}),
                        labels={CAPACITY_TYPE_LABEL: "on-demand"})
    picky = replace(pending("a"), node_selector={CAPACITY_TYPE_LABEL: "on-demand"})
    found = decide(snap((spot_group, on_demand), pods=(picky,)))
    assert [(s.instance_id, s.node_group) for s in found] == [("i-s", "f1-spot")]


def test_a_spot_instance_the_pod_is_planned_onto_is_kept_and_the_on_demand_one_goes() -> None:
    spot_group = group("f1-spot", {"i-s": "Pending:Wait"}, spot=True)
    on_demand = group("f1", {"i-o": "Pending:Wait"})
    wants_spot = replace(pending("a"), node_selector={CAPACITY_TYPE_LABEL: SPOT})
    found = decide(snap((spot_group, on_demand), pods=(wants_spot,)))
    assert [s.instance_id for s in found] == ["i-o"]


def test_a_group_the_plan_scales_up_gives_nothing_back() -> None:
    plan_up = Plan(scale_ups=(), pods=(), price_per_hour_added=0.0,
                   idle_upcoming={"f1": 2})
    snapshot = snap((group("f1", LAUNCHING),))
    assert len(surplus(snapshot, plan_up)) == 2
    from burst.core.model import ScaleUp
    scaling = replace(plan_up, scale_ups=(ScaleUp("f1", 2, 3),))
    assert surplus(snapshot, scaling) == ()


def test_instances_asked_for_but_not_listed_yet_are_not_invented() -> None:
    # desired 3, one instance listed so far: three idle upcoming slots, one instance to give
    snapshot = snap((replace(group("f1", {"i-1": "Pending"}), desired=3),))
    assert [s.instance_id for s in decide(snapshot)] == ["i-1"]
