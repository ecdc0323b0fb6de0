"""Adaptive scale-down: arrivals learned from the cluster, idle boards kept while a pod is
expected sooner than a new boot, never past the configured maximum."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.model import Instance, Node, NodeGroup, Pod, Policy, ScaleDown, Snapshot
from burst.core.scaledown import arrivals
from burst.core.scaledown.arrivals import Arrivals
from burst.core.scaledown.runtimes import Runs
from burst.core.scaledown.unneeded import UNNEEDED_SINCE, rfc3339, to_be_deleted_taint, unneeded

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = Policy()  # adaptive by default
CATALOG = default_catalog()
WINDOW = POLICY.arrival_window


def _group(name: str = "f2-6x", instance_type: str = "f2.6xlarge", n: int = 0,
           min_size: int = 0) -> NodeGroup:
    return NodeGroup(
        name, instance_type, min_size=min_size, max_size=10, desired=n,
        instances=tuple(Instance(f"i-{name}-{i}", "InService") for i in range(n)),
    )


def _node(group: NodeGroup, i: int, boards: int = 1, idle_since: datetime | None = None) -> Node:
    annotations = {UNNEEDED_SINCE: rfc3339(idle_since)} if idle_since else {}
    return Node(
        f"{group.name}-{i}", node_group=group.name, allocatable={F2_BOARD: boards},
        instance_id=f"i-{group.name}-{i}", annotations=annotations,
    )


def _pod(name: str, created: datetime, node: str | None = None, boards: int = 1) -> Pod:
    """A pod created at `created`; bound to `node`, it has run since then."""
    return Pod(f"ml/{name}", node=node, requests={F2_BOARD: boards}, created=created,
               started=created if node else None)


def _ran(minutes: Iterable[float]) -> Runs:
    """A record of ended runs of these lengths."""
    return Runs({}, tuple(60.0 * m for m in minutes))


def _every(minutes: float, count: int) -> Arrivals:
    """`count` one-board arrivals, `minutes` apart, the last one just now."""
    times = [(NOW - timedelta(minutes=minutes * k)).timestamp() for k in range(count)]
    return Arrivals(seen_until=NOW, boards={F2_BOARD: tuple((t, 1) for t in sorted(times))})


# -- arrivals ---------------------------------------------------------------------------


def test_arrivals_count_pending_and_burst_bound_pods_once_and_not_on_prem_ones() -> None:
    # GIVEN a pending pod, one on a burst node, one on-prem, and one seen last tick
    group = _group(n=1)
    snapshot = Snapshot(
        (group,),
        (_node(group, 0), Node("onprem-1", allocatable={F2_BOARD: 4})),
        (
            _pod("pending", NOW - timedelta(seconds=10)),
            _pod("burst", NOW - timedelta(seconds=20), node="f2-6x-0"),
            _pod("onprem", NOW - timedelta(seconds=30), node="onprem-1"),
            _pod("old", NOW - timedelta(minutes=2)),
        ),
        CATALOG,
    )
    previous = Arrivals(seen_until=NOW - timedelta(minutes=1))
    # WHEN they are observed
    found = arrivals.observe(previous, snapshot, NOW, WINDOW)
    # THEN only the first two count, once each, and the record moves on to now
    assert [n for _, n in found.boards[F2_BOARD]] == [1, 1]
    assert found.seen_until == NOW
    again = arrivals.observe(found, snapshot, NOW + timedelta(seconds=5), WINDOW)
    assert len(again.boards[F2_BOARD]) == 2


def test_arrivals_older_than_the_window_are_dropped_and_no_group_means_no_pool() -> None:
    old = (NOW - WINDOW - timedelta(minutes=1)).timestamp()
    previous = Arrivals(seen_until=NOW, boards={F2_BOARD: ((old, 1),)})
    snapshot = Snapshot((_group(),), (), (_pod("u250", NOW, boards=1),), CATALOG)
    found = arrivals.observe(previous, snapshot, NOW + timedelta(seconds=1), WINDOW)
    assert found.boards == {}
    # A pod whose board no group offers is not a burst arrival.
    other = Pod("ml/x", requests={"xilinx/u250": 1}, created=NOW)
    found = arrivals.observe(Arrivals(), Snapshot((_group(),), (), (other,), CATALOG),
                             NOW + timedelta(seconds=1), WINDOW)
    assert found.boards == {}


def test_the_record_survives_the_status_configmap_and_garbage_reads_as_empty() -> None:
    record = _every(2, 5)
    back = arrivals.from_data(arrivals.to_data(record))
    assert back.seen_until == record.seen_until
    assert [n for _, n in back.boards[F2_BOARD]] == [1] * 5
    assert arrivals.from_data("{not json") == Arrivals()
    assert arrivals.from_data('{"boards": {"x": [[1]]}}') == Arrivals()
    assert arrivals.from_data(None) == Arrivals()


def test_the_rate_is_the_windows_mean_but_falls_once_arrivals_stop() -> None:
    steady = arrivals.rate(_every(2, 15), F2_BOARD, NOW, WINDOW)
    assert steady.per_second == pytest.approx(15 / WINDOW.total_seconds())
    # Ten minutes after the same arrivals, at most one arrival's boards per ten minutes.
    later = arrivals.rate(_every(2, 15), F2_BOARD, NOW + timedelta(minutes=10), WINDOW)
    assert later.per_second == pytest.approx(1 / 600)
    assert arrivals.rate(Arrivals(), F2_BOARD, NOW, WINDOW).expected_in(1) is None


# -- the keep decision --------------------------------------------------------------------


def _idle_snapshot(nodes: int, boards: int = 1, instance_type: str = "f2.6xlarge",
                   since: datetime | None = None) -> tuple[Snapshot, NodeGroup]:
    group = _group(n=nodes, instance_type=instance_type)
    since = since or NOW - timedelta(minutes=1)
    return Snapshot(
        (group,), tuple(_node(group, i, boards, since) for i in range(nodes)), (), CATALOG
    ), group


def test_an_idle_node_is_kept_while_a_pod_is_expected_sooner_than_a_boot() -> None:
    # GIVEN one idle node and a pod every 2 minutes (a boot takes ~5)
    snapshot, _ = _idle_snapshot(1)
    plan = unneeded(snapshot, POLICY, NOW, arrivals=_every(2, 15))
    # THEN it is kept, and says why in words
    assert not plan.taint and not plan.terminate
    (kept,) = plan.kept
    assert kept.reason.startswith("kept idle: next FPGA pod for it expected in ~2 min")
    assert "a new boot takes ~5 min" in kept.reason


def test_only_as_many_idle_boards_are_kept_as_pods_are_expected_within_a_boot() -> None:
    # GIVEN five idle nodes and a pod every 2 minutes: within 5 minutes ~2 are needed
    snapshot, _ = _idle_snapshot(5)
    plan = unneeded(snapshot, POLICY, NOW, arrivals=_every(2, 15))
    assert len(plan.taint) == 3
    assert len([k for k in plan.kept if k.reason.startswith("kept idle")]) == 2


def test_with_no_arrivals_an_idle_node_is_given_back_at_once() -> None:
    snapshot, _ = _idle_snapshot(1)
    plan = unneeded(snapshot, POLICY, NOW, arrivals=Arrivals())
    (step,) = plan.taint
    assert "no FPGA pod for its boards in the last 30 min" in step.reason


def test_an_idle_node_is_never_kept_past_max_idle_time() -> None:
    snapshot, _ = _idle_snapshot(1, since=NOW - POLICY.max_idle_time)
    plan = unneeded(snapshot, POLICY, NOW, arrivals=_every(1, 30))
    (step,) = plan.taint
    assert "max_idle_time" in step.reason


def test_free_boards_on_busy_nodes_serve_the_next_pods_first() -> None:
    # GIVEN a busy 8-board node with 1 free board and an idle 1-board node of another group
    big = _group("f2-48x", "f2.48xlarge", n=1)
    small = _group(n=1)
    busy = _node(big, 0, boards=8)
    running = tuple(_pod(f"run-{i}", NOW - timedelta(minutes=10), node=busy.name)
                    for i in range(7))
    snapshot = Snapshot(
        (big, small), (busy, _node(small, 0, idle_since=NOW - timedelta(minutes=1))), running,
        CATALOG,
    )
    # WHEN a pod comes every 3 minutes: the busy node's free board takes the first (~3 min),
    # the idle node's board would wait for the second (~6 min, later than a boot)
    plan = unneeded(snapshot, POLICY, NOW, arrivals=_every(3, 10))
    # THEN the idle small node is given back; the busy one is untouched
    assert [s.node for s in plan.taint] == ["f2-6x-0"]
    # AND without the busy node's free board, the idle one would have been kept
    alone = replace(snapshot, nodes=(snapshot.nodes[1],), pods=())
    assert not unneeded(alone, POLICY, NOW, arrivals=_every(3, 10)).taint


def _busy_big(pods: int, age: timedelta, *, tainted: bool = False) -> Snapshot:
    big = _group("f2-48x", "f2.48xlarge", n=1)
    node = _node(big, 0, boards=8)
    if tainted:
        node = replace(node, unschedulable=True, taints=(to_be_deleted_taint(NOW),))
    running = tuple(_pod(f"run-{i}", NOW - age, node=node.name) for i in range(pods))
    return Snapshot((big,), (node,), running, CATALOG)


def test_a_big_node_whose_pods_are_about_to_end_takes_no_new_pods_and_empties() -> None:
    # GIVEN runs of 50 to 70 minutes, and an 8-board node whose one pod has run an hour
    record = _ran(range(50, 71))
    plan = unneeded(_busy_big(1, timedelta(hours=1)), POLICY, NOW, arrivals=Arrivals(),
                    runs=record)
    # THEN it is tainted (no new pods: one would hold all 8 boards about an hour more), not
    # terminated, and says why
    (step,) = plan.taint
    assert step.reason.startswith("emptying: 7 of its 8 boards idle")
    assert "longer than its pods now" in step.reason
    assert "one of its own costs one board for ~60 min" in step.reason
    assert not plan.terminate
    # AND while it empties, the taint stays
    still = unneeded(_busy_big(1, timedelta(hours=1), tainted=True), POLICY, NOW,
                     arrivals=Arrivals(), runs=record)
    assert not still.untaint and not still.terminate
    assert still.kept[0].reason.startswith("emptying")


@pytest.mark.parametrize(
    ("pods", "age", "arrivals_every", "record"),
    [
        pytest.param(7, 1, None, _ran(range(1, 61)),
                     id="seven-just-started-a-new-pod-rarely-outlasts-them"),
        pytest.param(1, 60, 0.2, _ran(range(50, 71)),
                     id="arrivals-fill-its-free-boards-within-a-boot"),
        pytest.param(1, 120, None, _ran(range(1, 31)),
                     id="its-pod-has-outrun-every-run-on-record-short-pods-end-before-it"),
        pytest.param(1, 60, None, Runs(), id="run-times-not-known-yet"),
    ],
)
def test_a_big_busy_node_keeps_taking_pods_when_that_is_cheaper(
    pods: int, age: int, arrivals_every: float | None, record: Runs
) -> None:
    arrived = _every(arrivals_every, 150) if arrivals_every else Arrivals()
    plan = unneeded(_busy_big(pods, timedelta(minutes=age)), POLICY, NOW, arrivals=arrived,
                    runs=record)
    assert not plan.taint


def test_fixed_mode_never_empties_a_busy_node() -> None:
    fixed = replace(POLICY, scale_down=ScaleDown.FIXED)
    assert not unneeded(_busy_big(1, timedelta(hours=1)), fixed, NOW).taint


def test_a_tainted_node_a_pod_is_expected_for_again_is_untainted_not_terminated() -> None:
    snapshot, _ = _idle_snapshot(1)
    tainted = replace(snapshot.nodes[0], unschedulable=True, taints=(to_be_deleted_taint(NOW),))
    snapshot = replace(snapshot, nodes=(tainted,))
    plan = unneeded(snapshot, POLICY, NOW, arrivals=_every(2, 15))
    assert [s.node for s in plan.untaint] == [tainted.name] and not plan.terminate


def test_fixed_mode_keeps_cluster_autoscalers_timer() -> None:
    snapshot, _ = _idle_snapshot(1)
    fixed = replace(POLICY, scale_down=ScaleDown.FIXED)
    plan = unneeded(snapshot, fixed, NOW, arrivals=Arrivals())
    assert not plan.taint  # unneeded for 1 minute of its 10


# -- properties ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    idle=st.lists(st.integers(0, 40), min_size=1, max_size=6),
    busy=st.integers(0, 3),
    gap=st.one_of(st.none(), st.floats(0.2, 20)),
    big=st.booleans(),
    age=st.integers(1, 240),
    ran=st.lists(st.integers(1, 300), max_size=30),
)
def test_adaptive_scale_down_never_removes_a_busy_node_and_bounds_idle_time(
    idle: list[int], busy: int, gap: float | None, big: bool, age: int, ran: list[int]
) -> None:
    # GIVEN idle nodes idle for various minutes, busy nodes (1 or 8 boards, one pod each)
    # and some arrival rate
    group = _group(n=len(idle) + busy, instance_type="f2.48xlarge" if big else "f2.6xlarge")
    boards = 8 if big else 1
    nodes = [_node(group, i, boards, idle_since=NOW - timedelta(minutes=m))
             for i, m in enumerate(idle)]
    busy_nodes = [_node(group, len(idle) + j, boards) for j in range(busy)]
    pods = tuple(_pod(f"run-{n.name}", NOW - timedelta(minutes=age), node=n.name)
                 for n in busy_nodes)
    record = _every(gap, 20) if gap is not None else Arrivals()
    snapshot = Snapshot((group,), (*nodes, *busy_nodes), pods, CATALOG)
    # WHEN scale-down decides
    plan = unneeded(snapshot, POLICY, NOW, arrivals=record, runs=_ran(ran))
    busy_names = {n.name for n in busy_nodes}
    # THEN no node with an FPGA pod is terminated; one may only be told to empty
    assert not {t.node for t in plan.terminate} & busy_names
    assert all(s.reason.startswith("emptying") for s in plan.taint if s.node in busy_names)
    # AND no node idle for max_idle_time or longer is kept
    touched = {s.node for s in plan.taint} | {t.node for t in plan.terminate}
    limit = POLICY.max_idle_time.total_seconds() / 60
    for node, minutes in zip(nodes, idle, strict=True):
        if minutes >= limit:
            assert node.name in touched
    # AND the kept idle boards are no more than the pods expected within a boot, plus one
    kept = [k for k in plan.kept if k.reason.startswith("kept idle")]
    if gap is None:
        assert not kept
    else:
        assert len(kept) * boards <= POLICY.boot_estimate.total_seconds() / (gap * 60) + 1
