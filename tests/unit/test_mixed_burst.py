"""Mixed bursts (burst.core.scaleup.mixed): sizes kube-scheduler cannot strand."""

from __future__ import annotations

from typing import Any

import pytest
from test_planner import group, pod, run, sizes

from burst.core.catalog import F2_BOARD, INSTANCE_TYPES, default_catalog
from burst.core.model import NodeGroup, Policy
from burst.tools.sim.engine import simulate
from burst.tools.sim.scheduler import KUBE
from burst.tools.sim.site import Site
from burst.tools.sim.timing import constant
from burst.tools.sim.trace import Job
from burst.tools.sim.world import Timings

F2_GROUPS = [
    group("f2-6x", "f2.6xlarge", max_size=400),
    group("f2-12x", "f2.12xlarge", max_size=400),
    group("f2-48x", "f2.48xlarge", max_size=400),
]
BIG = INSTANCE_TYPES["f2.48xlarge"].price_per_hour
SIZES = (1, 1, 1, 1, 1, 1, 2, 2, 2, 8)  # as the peers harness's 500-pods


def mixed_burst_sim(max_size: int) -> Site:
    types = ("f2.6xlarge", "f2.12xlarge", "f2.48xlarge")
    labels = {"inaccel/fpga": "enabled"}
    groups = tuple(NodeGroup(t.replace(".", "-"), t, 0, max_size, 0, labels=labels)
                   for t in types)
    return Site(groups, (), default_catalog())


def mixed_jobs(count: int, over: float) -> tuple[Job, ...]:
    return tuple(Job(f"ml/m{i:03d}", over * i / count, 3600.0, {F2_BOARD: SIZES[i % 10]},
                     node_selector={"inaccel/fpga": "enabled"}) for i in range(count))


def burst(boards: list[int]) -> list[dict[str, Any]]:
    return [pod(f"p{i:03d}", requests={F2_BOARD: n}) for i, n in enumerate(boards)]


def test_a_mixed_burst_goes_on_the_biggest_size_when_that_costs_no_more() -> None:
    # GIVEN the peers harness's burst: 500 pods of 1, 2 and 8 boards (6:3:1); each size is
    # the best fit for some of them, and F2's price is linear in boards
    boards = [SIZES[i % 10] for i in range(500)]
    # WHEN the plan is made
    report = run({"node_groups": F2_GROUPS, "pods": burst(boards)})
    # THEN every pod goes on an f2.48xlarge, the 1,000 boards on 125 of them, at the same
    # $/h as one instance of its own size per pod (300 x 1.98 + 150 x 3.96 + 50 x 15.84)
    assert sizes(report) == {"f2-48x": (0, 125)}
    assert report["price_per_hour_added"] == pytest.approx(125 * BIG)
    assert {p["node_group"] for p in report["pods"]} == {"f2-48x"}


def test_a_burst_of_one_size_keeps_instances_of_its_own() -> None:
    # GIVEN only 1-board pods: no pod can take an instance meant for a bigger one
    report = run({"node_groups": F2_GROUPS, "pods": burst([1] * 8)})
    # THEN each has an f2.6xlarge of its own (the lifetime step's choice stands)
    assert sizes(report) == {"f2-6x": (0, 8)}


def test_a_mix_goes_on_one_size_for_up_to_one_instance_of_it_more() -> None:
    # GIVEN an 8-board pod and three 1-board pods: on f2.48xlarge alone they need two
    # (11 boards, $31.68/h), against one and three f2.6xlarge ($21.78/h) that a 1-board
    # pod taking the f2.48xlarge first would make $37.62/h (one more bought)
    report = run({"node_groups": F2_GROUPS, "pods": burst([8, 1, 1, 1])})
    # THEN the uniform plan: whichever Node comes first, every pod finds room
    assert sizes(report) == {"f2-48x": (0, 2)}


def test_the_biggest_groups_max_size_bounds_the_uniform_plan() -> None:
    # GIVEN room for only one more f2.48xlarge, and pods for two
    groups = [group("f2-6x", "f2.6xlarge", max_size=20), group("f2-48x", "f2.48xlarge",
                                                                 max_size=1)]
    report = run({"node_groups": groups, "pods": burst([8, *[1] * 8])})
    # THEN the 8-board pod keeps it and the small ones their own instances
    assert sizes(report) == {"f2-48x": (0, 1), "f2-6x": (0, 8)}


def test_under_the_kube_scheduler_model_no_instance_of_a_mixed_burst_boots_for_nobody() -> None:
    # GIVEN 100 pods of 1, 2 and 8 boards created over 8 s (watch mode plans them in
    # several batches), instances that register 5 s after launch with their boards, and
    # kube-scheduler's default scoring binding each pod as Nodes appear
    sim = mixed_burst_sim(max_size=100)
    # WHEN the simulator runs the controller
    result = simulate("kube", sim, Policy(), mixed_jobs(100, over=8.0),
                      Timings(constant(5.0), constant(0.0), scheduler=KUBE), 0)
    # THEN every instance launched ran a pod, and there were 25 (the 200 boards on
    # f2.48xlarge) or barely more
    assert result.bill.unused == 0
    assert result.bill.launches <= 27


def test_never_onto_a_lower_priority_group() -> None:
    # GIVEN the f2.48xlarge group at a lower priority than the smaller ones
    groups = [*F2_GROUPS[:2], {**F2_GROUPS[2], "priority": -1}]
    report = run({"node_groups": groups, "pods": burst([8, 1, 1, 1, 1, 1, 1, 2, 2, 2])})
    # THEN the small pods keep the higher-priority groups; the 8-board pod, which only the
    # f2.48xlarge can host, is the only one there
    assert sizes(report) == {"f2-48x": (0, 1), "f2-6x": (0, 6), "f2-12x": (0, 3)}
