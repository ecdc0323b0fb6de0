"""The simulator's kube-scheduler model (burst.tools.sim.scheduler): scores and ties.
tests/integration/test_scheduler_model.py holds it against the real kube-scheduler."""

from __future__ import annotations

import pytest

from burst.core.catalog import F2_BOARD, default_catalog
from burst.core.model import Node, NodeGroup, Pod, Taint
from burst.tools.sim.scheduler import (
    GIB,
    IDEAL,
    KUBE,
    KUBE_BINPACK,
    ONPREM,
    Ideal,
    KubeScheduler,
    Room,
    binder,
    rooms_of,
)

CATALOG = default_catalog()
GROUPS = {
    "six": NodeGroup("six", "f2.6xlarge", 0, 9, 0),
    "big": NodeGroup("big", "f2.48xlarge", 0, 9, 0),
}


def node(name: str, boards: int, group: str | None = None, **extra: object) -> Node:
    return Node(name, group, allocatable={F2_BOARD: boards}, **extra)  # type: ignore[arg-type]


def one(boards: int) -> Pod:
    return Pod("ns/p", requests={F2_BOARD: boards})


def test_node_sizes_come_from_the_instance_types_and_on_prem_counts_as_onprem() -> None:
    room = rooms_of(GROUPS, CATALOG)
    assert room(node("a", 1, "six")) == Room(24_000, 256 * GIB)
    assert room(node("b", 8, "big")) == Room(192_000, 2048 * GIB)
    assert room(node("c", 4)) == ONPREM


def test_least_allocated_prefers_the_node_with_more_cpu_and_memory_left() -> None:
    # GIVEN two idle Nodes with room, one small in cpu and memory (each pod's 100m counts)
    rooms = {"small": Room(2_000, 4 * GIB), "large": Room(16_000, 64 * GIB)}
    model = KubeScheduler(False, CATALOG, lambda n: rooms[n.name])
    nodes = {"small": node("small", 8), "large": node("large", 8)}
    free = {n: {F2_BOARD: 8} for n in nodes}
    # THEN LeastAllocated takes the large one (99 against 95)
    assert model.best(one(1), free, nodes, {}) == [("large", F2_BOARD, 1)]
    # and once it holds 40 pods (cpu 74, memory 87: 80), the small one (95)
    assert model.best(one(1), free, nodes, {"large": 40}) == [("small", F2_BOARD, 1)]


def test_most_allocated_over_the_boards_fills_the_fullest_node() -> None:
    # GIVEN an idle 8-board Node and a 2-board one with a board taken, alike in cpu
    model = KubeScheduler(True, CATALOG, lambda n: ONPREM)
    nodes = {"eight": node("eight", 8), "two": node("two", 2)}
    free = {"eight": {F2_BOARD: 8}, "two": {F2_BOARD: 1}}
    # THEN the bin-packing scoring binds a 1-board pod where it fills the Node
    assert model.best(one(1), free, nodes, {"two": 1}) == [("two", F2_BOARD, 1)]
    # and a 2-board pod goes where it fits
    assert model.best(one(2), free, nodes, {"two": 1}) == [("eight", F2_BOARD, 2)]


def test_equal_scores_are_all_best_and_the_draw_among_them_is_seeded() -> None:
    # GIVEN the f2.6xlarge and f2.48xlarge idle: LeastAllocated gives both 99
    room = rooms_of(GROUPS, CATALOG)
    nodes = {"a": node("a", 1, "six"), "b": node("b", 8, "big")}
    free = {n: {F2_BOARD: nodes[n].allocatable[F2_BOARD]} for n in nodes}
    model = KubeScheduler(False, CATALOG, room, seed=3)
    assert {s[0] for s in model.best(one(1), free, nodes, {})} == {"a", "b"}
    # THEN the same seed draws the same Nodes, pod after pod
    draws = [model.place(one(1), free, nodes, {}) for _ in range(20)]
    again = KubeScheduler(False, CATALOG, room, seed=3)
    assert [again.place(one(1), free, nodes, {}) for _ in range(20)] == draws
    assert {d[0] for d in draws if d} == {"a", "b"}


def test_prefer_no_schedule_taints_weigh_three_times_the_fit() -> None:
    soft = Taint("fpga-burst.io/burst", "true", "PreferNoSchedule")
    model = KubeScheduler(False, CATALOG, lambda n: ONPREM)
    nodes = {"burst": node("burst", 8, taints=(soft,)), "onprem": node("onprem", 8)}
    free = {n: {F2_BOARD: 8} for n in nodes}
    # THEN the untainted Node wins even with 40 pods on it (fit 80 + 3 x 100 > 99 + 0)
    assert model.best(one(1), free, nodes, {"onprem": 40})[0][0] == "onprem"


def test_no_room_or_a_blocking_taint_leaves_the_pod_pending() -> None:
    hard = Taint("dedicated", "x", "NoSchedule")
    model = KubeScheduler(False, CATALOG, lambda n: ONPREM)
    nodes = {"full": node("full", 1), "tainted": node("tainted", 8, taints=(hard,))}
    free = {"full": {F2_BOARD: 0}, "tainted": {F2_BOARD: 8}}
    assert model.place(one(1), free, nodes, {}) is None


@pytest.mark.parametrize(("kind", "expected"), [(KUBE, KubeScheduler),
                                                (KUBE_BINPACK, KubeScheduler),
                                                (IDEAL, Ideal)])
def test_each_scheduler_is_named(kind: str, expected: type) -> None:
    assert isinstance(binder(kind, CATALOG, GROUPS, 0), expected)


def test_an_unknown_scheduler_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="scheduler 'fifo'"):
        binder("fifo", CATALOG, GROUPS, 0)
