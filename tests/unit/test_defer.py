"""A pending pod waits for a board a running pod is likely to free, within the configured
bound, instead of a new instance; every other pod's scale-up goes ahead."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.model import Node, NodeGroup, Plan, Pod, PodOutcome, Policy, Snapshot, Taint
from burst.core.scaledown.defer import at_least, hold
from burst.core.scaledown.runtimes import Runs
from burst.core.scaleup.planner import plan as make_plan

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = Policy()
GROUPS = (NodeGroup("f2-6x", "f2.6xlarge", 0, 10, 0), NodeGroup("f2-12x", "f2.12xlarge", 0, 10, 0))
# Forty runs ended: half after 2 min, half after an hour. A pod 100 s old ends within 45 s
# half the time; one 10 min old almost never.
RUNS = Runs({}, tuple([120.0] * 20 + [3600.0] * 20))


def _snapshot(*pods: Pod, taints: tuple[Taint, ...] = ()) -> Snapshot:
    node = Node("onprem-1", allocatable={F2_BOARD: 2}, taints=taints)
    return Snapshot(GROUPS, (node,), pods, default_catalog())


def _running(name: str, ran: float, boards: int = 1) -> Pod:
    return Pod(f"ml/{name}", node="onprem-1", requests={F2_BOARD: boards},
               started=NOW - timedelta(seconds=ran))


def _pending(name: str, boards: int = 1, age: float = 0.0) -> Pod:
    return Pod(f"ml/{name}", requests={F2_BOARD: boards}, created=NOW - timedelta(seconds=age))


def _hold(view: Snapshot, policy: Policy = POLICY, runs: Runs = RUNS) -> Plan:
    return hold(make_plan(view, policy), view, runs, policy, NOW)


def _outcomes(plan: Plan) -> dict[str, PodOutcome]:
    return {d.pod: d.outcome for d in plan.pods}


def test_a_pod_waits_for_the_board_of_pods_likely_to_end_and_asks_for_no_instance() -> None:
    # GIVEN both on-prem boards busy with pods 100 s old (each ends within 45 s: 1 in 2)
    view = _snapshot(_running("a", 100), _running("b", 100), _pending("new"))
    # WHEN the plan would scale up for the new pod
    assert make_plan(view, POLICY).scale_ups
    held = _hold(view)
    # THEN it waits (one of two such pods ends in time 3 times in 4) and nothing is raised
    assert _outcomes(held) == {"ml/new": PodOutcome.DEFERRED}
    assert held.scale_ups == ()
    reason = held.pods[0].reason or ""
    assert "waits up to 45 s for a board" in reason and "75%" in reason
    assert "a new instance takes ~5 min" in reason


def test_only_as_many_pods_wait_as_boards_are_likely_to_be_freed() -> None:
    # GIVEN the same two busy boards and three pending pods
    pods = [_pending(f"p{i}", age=3 - i) for i in range(3)]
    held = _hold(_snapshot(_running("a", 100), _running("b", 100), *pods))
    # THEN the oldest waits (1 of 2 ends: 75 %), the second not (both end: 25 %)
    assert _outcomes(held) == {"ml/p0": PodOutcome.DEFERRED, "ml/p1": PodOutcome.SCALE_UP,
                               "ml/p2": PodOutcome.SCALE_UP}
    assert [(s.node_group, s.to_size) for s in held.scale_ups] == [("f2-6x", 2)]


def test_no_wait_for_pods_unlikely_to_end_or_past_the_bound_or_when_turned_off() -> None:
    old = _snapshot(_running("a", 600), _running("b", 600), _pending("new"))
    assert _outcomes(_hold(old)) == {"ml/new": PodOutcome.SCALE_UP}
    late = _snapshot(_running("a", 100), _running("b", 100), _pending("new", age=45))
    assert _outcomes(_hold(late)) == {"ml/new": PodOutcome.SCALE_UP}
    likely = _snapshot(_running("a", 100), _running("b", 100), _pending("new"))
    off = replace(POLICY, defer_scale_up=timedelta(0))
    assert _outcomes(_hold(likely, off)) == {"ml/new": PodOutcome.SCALE_UP}
    # AND with no run times known, no pod waits
    assert _outcomes(_hold(likely, runs=Runs())) == {"ml/new": PodOutcome.SCALE_UP}


def test_a_board_freed_where_the_pod_cannot_go_or_too_few_boards_are_not_waited_for() -> None:
    # a taint the pod does not tolerate
    tainted = _snapshot(_running("a", 100), _running("b", 100), _pending("new"),
                        taints=(Taint("dedicated", "other", "NoSchedule"),))
    assert _outcomes(_hold(tainted)) == {"ml/new": PodOutcome.SCALE_UP}
    # a 2-board pod: one ending pod leaves one board, not two
    big = _hold(_snapshot(_running("a", 100), _running("b", 100), _pending("new", boards=2)))
    assert _outcomes(big) == {"ml/new": PodOutcome.SCALE_UP}
    assert [(s.node_group, s.to_size) for s in big.scale_ups] == [("f2-12x", 1)]
    # unless one pod holds both (it ends in time 1 in 2: LIKELY enough)
    both = _hold(_snapshot(_running("a", 100, boards=2), _pending("new", boards=2)))
    assert _outcomes(both) == {"ml/new": PodOutcome.DEFERRED}


@given(st.lists(st.floats(min_value=0, max_value=1), max_size=7), st.integers(0, 8))
def test_at_least_is_the_poisson_binomial_tail(chances: list[float], count: int) -> None:
    brute = 0.0
    for happened in itertools.product((False, True), repeat=len(chances)):
        if sum(happened) >= count:
            weight = 1.0
            for p, h in zip(chances, happened, strict=True):
                weight *= p if h else 1 - p
            brute += weight
    assert abs(at_least(chances, count) - brute) < 1e-9


@given(st.lists(st.floats(min_value=0, max_value=900), max_size=4),
       st.lists(st.floats(min_value=0, max_value=120), max_size=5),
       st.lists(st.floats(min_value=1, max_value=4000), min_size=8, max_size=40))
def test_only_pods_a_scale_up_was_for_wait_within_the_bound_and_no_group_grows_more(
    ages: list[float], waited: list[float], ended: list[float]
) -> None:
    running = [_running(f"r{i}", age) for i, age in enumerate(ages[:2])]
    pending = [_pending(f"p{i}", age=w) for i, w in enumerate(waited)]
    view = _snapshot(*running, *pending)
    before = make_plan(view, POLICY)
    after = hold(before, view, Runs({}, tuple(ended)), POLICY, NOW)
    was = _outcomes(before)
    waited_for = {p.name: w for p, w in zip(pending, waited, strict=True)}
    for d in after.pods:
        if d.outcome is PodOutcome.DEFERRED:
            assert was[d.pod] is PodOutcome.SCALE_UP
            assert waited_for[d.pod] < POLICY.defer_scale_up.total_seconds()
    assert sorted(_outcomes(after)) == sorted(was)  # every pod still decided, once
    grown = {s.node_group: s.to_size for s in before.scale_ups}
    assert all(s.to_size <= grown.get(s.node_group, 0) for s in after.scale_ups)
