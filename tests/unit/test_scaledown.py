"""Scale-down: which burst nodes are annotated, tainted, given back and terminated, and why."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burst.core.catalog import F1_BOARD, default_catalog
from burst.core.model import (
    SAFE_TO_EVICT,
    SCALE_DOWN_DISABLED,
    Catalog,
    Instance,
    Node,
    NodeGroup,
    Pod,
    Policy,
    ScaleDown,
    Snapshot,
)
from burst.core.scaledown.unneeded import (
    TO_BE_DELETED,
    UNNEEDED_SINCE,
    ScaleDownPlan,
    planning_view,
    rfc3339,
    to_be_deleted_taint,
    unneeded,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = Policy(scale_down=ScaleDown.FIXED, scale_down_unneeded_time=timedelta(minutes=10),
                scale_down_delay_after_add=timedelta(minutes=10))
CATALOG = Catalog(
    accelerators={"xgb": {F1_BOARD: 2, "xilinx/u250": 4}},
    instance_types=default_catalog().instance_types,
)


def group(n: int = 1, *, min_size: int = 0, states: tuple[str, ...] = (),
          last_scale_up: datetime | None = None) -> NodeGroup:
    states = states or ("InService",) * n
    return NodeGroup(
        "f1", "f1.4xlarge", min_size=min_size, max_size=8, desired=n,
        instances=tuple(Instance(f"i-{i:04x}", s) for i, s in enumerate(states)),
        last_scale_up=last_scale_up,
    )


def burst_node(i: int = 0, *, since: timedelta | None = None, tainted: bool = False,
               boards: int = 2, extra: Mapping[str, str] | None = None) -> Node:
    annotations = dict(extra or {})
    if since is not None:
        annotations[UNNEEDED_SINCE] = rfc3339(NOW - since)
    return Node(
        f"burst-{i}", node_group="f1", instance_id=f"i-{i:04x}",
        allocatable={F1_BOARD: boards} if boards else {},
        taints=(to_be_deleted_taint(NOW - timedelta(minutes=1)),) if tainted else (),
        unschedulable=tainted, annotations=annotations,
    )


ONPREM = Node("onprem-1", allocatable={"xilinx/u250": 1})


def snap(nodes: tuple[Node, ...], pods: tuple[Pod, ...] = (), g: NodeGroup | None = None,
         ) -> Snapshot:
    return Snapshot(node_groups=(g or group(len([n for n in nodes if n.node_group])),),
                    nodes=(ONPREM, *nodes), pods=pods, catalog=CATALOG)


def actions(p: ScaleDownPlan) -> dict[str, list[str]]:
    return {
        "annotate": [f"{s.node}={s.value}" for s in p.annotate],
        "taint": [s.node for s in p.taint],
        "untaint": [s.node for s in p.untaint],
        # "re-checked": tainted in this same plan, terminated once a fresh read finds it empty
        "terminate": [t.instance_id + (" re-checked" if t.recheck else "") for t in p.terminate],
    }


def only(**found: list[str]) -> dict[str, list[str]]:
    return {"annotate": [], "taint": [], "untaint": [], "terminate": [], **found}


FPGA_POD = Pod("ml/job", node="burst-0", requests={F1_BOARD: 2})
DAEMON = Pod("kube-system/plugin", node="burst-0", daemonset=True)
MIRROR = Pod("kube-system/static", node="burst-0", mirror=True)
PENDING_FITS = Pod("ml/next", requests={F1_BOARD: 2})
PENDING_ON_PREM = Pod("ml/small", requests={"xilinx/u250": 1})

CASES = [
    pytest.param(snap((burst_node(),)), only(annotate=[f"burst-0={rfc3339(NOW)}"]),
                 id="empty-node-is-annotated-unneeded-from-now"),
    pytest.param(snap((burst_node(since=timedelta(minutes=3)),)), only(),
                 id="unneeded-for-less-than-the-unneeded-time-waits"),
    pytest.param(snap((burst_node(since=timedelta(minutes=10)),)),
                 only(taint=["burst-0"], terminate=["i-0000 re-checked"]),
                 id="unneeded-for-the-unneeded-time-is-tainted-and-terminated"),
    pytest.param(snap((burst_node(since=timedelta(minutes=11), tainted=True),)),
                 only(terminate=["i-0000"]), id="tainted-and-still-empty-is-terminated"),
    pytest.param(snap((burst_node(since=timedelta(minutes=11)),), (DAEMON, MIRROR)),
                 only(taint=["burst-0"], terminate=["i-0000 re-checked"]),
                 id="daemonset-and-mirror-pods-do-not-keep-a-node"),
    pytest.param(snap((burst_node(since=timedelta(minutes=11), tainted=True),), (FPGA_POD,)),
                 only(annotate=["burst-0=None"], untaint=["burst-0"]),
                 id="an-fpga-pod-makes-it-needed-again-annotation-and-taint-removed"),
    pytest.param(snap((burst_node(since=timedelta(minutes=11), tainted=True),), (PENDING_FITS,)),
                 only(annotate=["burst-0=None"], untaint=["burst-0"]),
                 id="a-pending-pod-the-plan-puts-on-a-tainted-node-gives-it-back"),
    pytest.param(snap((burst_node(since=timedelta(minutes=11)),), (PENDING_ON_PREM,)),
                 only(taint=["burst-0"], terminate=["i-0000 re-checked"]),
                 id="a-pending-pod-fitting-on-prem-does-not-keep-it"),
    pytest.param(snap((burst_node(boards=0),), (PENDING_FITS,)), only(),
                 id="a-node-still-waiting-for-its-boards-that-a-pending-pod-waits-for-is-kept"),
    pytest.param(snap((burst_node(since=timedelta(hours=1), extra={SCALE_DOWN_DISABLED: "true"}),)),
                 only(annotate=["burst-0=None"]), id="scale-down-disabled-annotation"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      (Pod("ml/db", node="burst-0", annotations={SAFE_TO_EVICT: "false"}),)),
                 only(annotate=["burst-0=None"]), id="pod-not-safe-to-evict"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),), (Pod("ml/bare", node="burst-0"),)),
                 only(annotate=["burst-0=None"]), id="a-pod-no-controller-owns-keeps-the-node"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      (Pod("ml/cache", node="burst-0", controller="ReplicaSet",
                           local_volumes=("scratch",)),)),
                 only(annotate=["burst-0=None"]), id="a-pod-with-local-storage-keeps-the-node"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      (Pod("kube-system/dns", node="burst-0", controller="ReplicaSet"),)),
                 only(annotate=["burst-0=None"]), id="a-kube-system-pod-without-pdb-keeps-it"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      (Pod("ml/web", node="burst-0", controller="ReplicaSet"),)),
                 only(taint=["burst-0"], terminate=["i-0000 re-checked"]),
                 id="a-replicaset-pod-does-not-keep-the-node"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),), g=group(min_size=1)), only(),
                 id="group-at-min-size-is-not-tainted"),
    pytest.param(snap((burst_node(since=timedelta(hours=1), tainted=True),), g=group(min_size=1)),
                 only(untaint=["burst-0"]), id="tainted-node-of-group-at-min-size-is-given-back"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      g=group(last_scale_up=NOW - timedelta(minutes=5))), only(),
                 id="no-taint-within-the-delay-after-the-groups-last-scale-up"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),),
                      g=group(states=("Terminating:Wait",))),
                 only(), id="an-instance-already-terminating-is-left-to-the-lifecycle-hook"),
    pytest.param(snap((burst_node(since=timedelta(hours=1)),
                       burst_node(1, since=timedelta(hours=2), tainted=True),
                       burst_node(2, since=timedelta(hours=3))), g=group(3, min_size=1)),
                 only(taint=["burst-2"], terminate=["i-0001", "i-0002 re-checked"]),
                 id="min-size-counts-removals-in-flight-oldest-first"),
    pytest.param(Snapshot(node_groups=(group(),), catalog=CATALOG,
                          nodes=(ONPREM, burst_node(since=timedelta(minutes=20)))),
                 only(taint=["burst-0"], terminate=["i-0000 re-checked"]),
                 id="on-prem-node-is-never-a-candidate"),
]


@pytest.mark.parametrize(("snapshot", "expected"), CASES)
def test_scale_down_steps(snapshot: Snapshot, expected: dict[str, list[str]]) -> None:
    assert actions(unneeded(snapshot, POLICY, NOW)) == expected


def test_an_unreadable_unneeded_since_annotation_restarts_the_count_from_now() -> None:
    node = Node("burst-0", node_group="f1", instance_id="i-0000",
                annotations={UNNEEDED_SINCE: "yesterday"})
    assert actions(unneeded(snap((node,)), POLICY, NOW)) == only(
        annotate=[f"burst-0={rfc3339(NOW)}"])


def test_unneeded_time_of_zero_annotates_taints_and_terminates_in_one_step() -> None:
    zero = Policy(scale_down=ScaleDown.FIXED, scale_down_unneeded_time=timedelta(0))
    assert actions(unneeded(snap((burst_node(),)), zero, NOW)) == only(
        annotate=[f"burst-0={rfc3339(NOW)}"], taint=["burst-0"], terminate=["i-0000 re-checked"])


def test_every_kept_node_has_a_reason() -> None:
    plan = unneeded(snap((burst_node(),), (FPGA_POD,)), POLICY, NOW)
    assert [(k.node, k.reason) for k in plan.kept] == [("burst-0", "runs FPGA pod ml/job")]


def test_planning_view_undoes_our_taint_and_cordon_for_pods_that_fill_the_node() -> None:
    pending = (Pod("ml/big", requests={F1_BOARD: 2}),)
    view = planning_view(snap((burst_node(tainted=True), burst_node(1)), pending))
    assert all(not n.taints and not n.unschedulable for n in view.nodes)
    assert all(t.key != TO_BE_DELETED for n in view.nodes for t in n.taints)


def test_planning_view_keeps_a_big_node_going_when_pending_pods_would_use_part_of_it() -> None:
    # A 1-board pod would hold both boards of the 2-board node for as long as it runs.
    pending = (Pod("ml/small", requests={F1_BOARD: 1}),)
    view = planning_view(snap((burst_node(tainted=True),), pending))
    (node,) = [n for n in view.nodes if n.node_group]
    assert node.unschedulable and node.taints[0].key == TO_BE_DELETED


# -- invariants ---------------------------------------------------------------------------

node_specs = st.lists(
    st.tuples(
        st.sampled_from([None, "f1", "f2"]),  # group; None: on-prem
        st.booleans(),  # tainted
        st.integers(min_value=0, max_value=30),  # minutes unneeded, 0: no annotation
        st.booleans(),  # runs an FPGA pod
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(specs=node_specs, min_f1=st.integers(0, 4), min_f2=st.integers(0, 4))
def test_never_touches_on_prem_nodes_and_never_goes_below_min_size(
    specs: list[tuple[str | None, bool, int, bool]], min_f1: int, min_f2: int
) -> None:
    nodes: list[Node] = []
    pods: list[Pod] = []
    members: dict[str, list[Instance]] = {"f1": [], "f2": []}
    for i, (g, tainted, minutes, busy) in enumerate(specs):
        since = {UNNEEDED_SINCE: rfc3339(NOW - timedelta(minutes=minutes))} if minutes else {}
        node = Node(f"n{i}", node_group=g, instance_id=f"i-{i:04x}" if g else None,
                    allocatable={F1_BOARD: 2}, annotations=since, unschedulable=tainted,
                    taints=(to_be_deleted_taint(NOW),) if tainted else ())
        nodes.append(node)
        if g:
            members[g].append(Instance(f"i-{i:04x}", "InService"))
        if busy:
            pods.append(Pod(f"ml/p{i}", node=node.name, requests={F1_BOARD: 1}))
    groups = tuple(
        NodeGroup(name, "f1.4xlarge", min_size=min(m, len(members[name])), max_size=8,
                  desired=len(members[name]), instances=tuple(members[name]))
        for name, m in (("f1", min_f1), ("f2", min_f2))
    )
    snapshot = Snapshot(groups, tuple(nodes), tuple(pods), CATALOG)
    fixed = Policy(scale_down=ScaleDown.FIXED, scale_down_unneeded_time=timedelta(minutes=10))
    plan = unneeded(snapshot, fixed, NOW)
    onprem = {n.name for n in nodes if n.node_group is None}
    touched = {s.node for s in (*plan.annotate, *plan.taint, *plan.untaint)}
    touched |= {t.node for t in plan.terminate}
    assert not touched & onprem
    by_name = {n.name: n for n in nodes}
    occupied = {p.node for p in pods}
    assert not {t.node for t in plan.terminate} & occupied
    assert not {s.node for s in plan.taint} & occupied
    # a termination planned on the strength of this plan's taint is re-checked first
    assert {t.node for t in plan.terminate if t.recheck} <= {s.node for s in plan.taint}
    assert all(t.recheck or by_name[t.node].taints for t in plan.terminate)
    for group in groups:
        untainted = {s.node for s in plan.untaint}
        going = {t.node for t in plan.terminate if t.node_group == group.name}
        going |= {s.node for s in plan.taint if by_name[s.node].node_group == group.name}
        going |= {n.name for n in nodes if n.node_group == group.name and n.taints
                  and n.name not in untainted}
        assert group.desired - len(going) >= group.min_size
