"""The planner's contract (docs/scenarios.md), one rule per test, on scenarios as data."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from burst.core.model import Plan, PodOutcome
from burst.core.scaleup.planner import plan
from burst.tools.report import to_json
from burst.tools.scenario import parse

LABELS = {"inaccel/fpga": "enabled"}
XGB = {"com.inaccel.xgboost.exact": {"xilinx/u250": 4, "xilinx/aws-vu9p-f1": 2}}


def group(name: str, instance_type: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "instance_type": instance_type, "max_size": 4, "labels": LABELS, **extra}


def pod(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": f"ml/{name}", "node_selector": LABELS, **extra}


def managed_node(name: str, allocatable: dict[str, int], **extra: Any) -> dict[str, Any]:
    """A node registered in the managed f1-4xlarge group."""
    return {
        "name": name, "node_group": "f1-4xlarge", "labels": LABELS, "allocatable": allocatable,
        **extra,
    }


def run(doc: dict[str, Any]) -> dict[str, Any]:
    scenario = parse(doc, "test.yaml")
    return to_json(plan(scenario.snapshot, scenario.policy))


def outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {p["pod"]: (p["outcome"], p.get("node") or p.get("node_group")) for p in report["pods"]}


def sizes(report: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {s["node_group"]: (s["from"], s["to"]) for s in report["scale_up"]}


F1_GROUPS = [group("f1-2xlarge", "f1.2xlarge"), group("f1-4xlarge", "f1.4xlarge")]


def test_seed_evaluation_idle_u250_takes_one_job_and_f1_4xlarge_grows_for_the_other() -> None:
    report = run(
        {
            "catalog": {"accelerators": XGB},
            "node_groups": F1_GROUPS,
            "nodes": [{"name": "onprem-1", "labels": LABELS, "allocatable": {"xilinx/u250": 1}}],
            "pods": [
                pod("xgb-1", accelerators={"com.inaccel.xgboost.exact": 4}),
                pod("xgb-2", accelerators={"com.inaccel.xgboost.exact": 4}),
            ],
        }
    )
    assert sizes(report) == {"f1-4xlarge": (0, 1)}
    assert report["pods"] == [
        {
            "pod": "ml/xgb-1",
            "outcome": "fits-existing",
            "node": "onprem-1",
            "board": "xilinx/u250",
            "boards": 1,
        },
        {
            "pod": "ml/xgb-2",
            "outcome": "scale-up",
            "node_group": "f1-4xlarge",
            "board": "xilinx/aws-vu9p-f1",
            "boards": 2,
        },
    ]
    assert report["price_per_hour_added"] == pytest.approx(3.30)


def test_free_boards_on_registered_nodes_are_used_and_bound_pods_take_theirs() -> None:
    report = run(
        {
            "node_groups": F1_GROUPS,
            "nodes": [
                {"name": "onprem-1", "labels": LABELS, "allocatable": {"xilinx/u250": 2}},
                {"name": "onprem-2", "labels": LABELS, "allocatable": {"xilinx/u250": 1}},
            ],
            "pods": [
                {"name": "ml/running", "node": "onprem-1", "requests": {"xilinx/u250": 1}},
                pod("a", requests={"xilinx/u250": 1}),
                pod("b", requests={"xilinx/u250": 1}),
                pod("c", requests={"xilinx/u250": 1}),
            ],
        }
    )
    placed = outcomes(report)
    assert sorted(v for v in placed.values() if v[0] == "fits-existing") == [
        ("fits-existing", "onprem-1"),
        ("fits-existing", "onprem-2"),
    ]
    assert placed["ml/c"][0] == "unschedulable"
    assert report["scale_up"] == []


@pytest.mark.parametrize(
    ("node", "usable"),
    [
        pytest.param({"ready": False}, False, id="not-ready"),
        pytest.param({"unschedulable": True}, False, id="cordoned"),
        pytest.param({"labels": {}}, False, id="selector-mismatch"),
        pytest.param({"taints": [{"key": "busy", "effect": "NoSchedule"}]}, False, id="tainted"),
        pytest.param(
            {"taints": [{"key": "busy", "effect": "PreferNoSchedule"}]},
            True,
            id="prefer-no-schedule-is-no-block",
        ),
        pytest.param({}, True, id="ready-and-matching"),
    ],
)
def test_only_ready_schedulable_matching_nodes_count_as_free_capacity(
    node: dict[str, Any], usable: bool
) -> None:
    spec = {"name": "onprem-1", "labels": LABELS, "allocatable": {"xilinx/aws-vu9p-f1": 2}, **node}
    report = run(
        {
            "node_groups": F1_GROUPS,
            "nodes": [spec],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 2})],
        }
    )
    assert outcomes(report)["ml/a"][0] == ("fits-existing" if usable else "scale-up")


def test_unregistered_instances_are_upcoming_capacity_and_prevent_a_second_scale_up() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", desired=1)],
            "pods": [
                pod("a", requests={"xilinx/aws-vu9p-f1": 1}),
                pod("b", requests={"xilinx/aws-vu9p-f1": 1}),
            ],
        }
    )
    assert report["scale_up"] == []
    assert set(outcomes(report).values()) == {("fits-upcoming", "f1-4xlarge")}


def test_a_registered_node_whose_device_plugin_is_late_is_upcoming_not_missing() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", desired=1)],
            "nodes": [managed_node("ip-10-0-0-1", {})],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 2})],
        }
    )
    assert report["scale_up"] == []
    assert outcomes(report)["ml/a"] == ("fits-upcoming", "f1-4xlarge")


def test_upcoming_capacity_is_used_before_new_and_only_the_rest_scales() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", desired=1)],
            "pods": [pod(f"p{i}", requests={"xilinx/aws-vu9p-f1": 1}) for i in range(5)],
        }
    )
    assert sizes(report) == {"f1-4xlarge": (1, 3)}
    counted = [o for o, _ in outcomes(report).values()]
    assert counted.count("fits-upcoming") == 2 and counted.count("scale-up") == 3


def test_all_boards_of_a_pod_must_be_on_one_node() -> None:
    report = run(
        {
            "node_groups": [group("f1-2xlarge", "f1.2xlarge")],
            "pods": [pod("big", requests={"xilinx/aws-vu9p-f1": 2})],
        }
    )
    decision = report["pods"][0]
    assert decision["outcome"] == "unschedulable"
    assert "f1-2xlarge: offers 1 x xilinx/aws-vu9p-f1 per instance" in decision["reason"]
    assert report["scale_up"] == []


def test_node_selector_and_taints_decide_which_groups_can_host() -> None:
    tainted = group(
        "f1-4xlarge-tainted",
        "f1.4xlarge",
        taints=[{"key": "burst", "value": "aws", "effect": "NoSchedule"}],
    )
    other = group("f1-4xlarge-gpu", "f1.4xlarge", labels={"team": "gpu"})
    report = run(
        {
            "node_groups": [tainted, other],
            "pods": [
                pod("no-toleration", requests={"xilinx/aws-vu9p-f1": 1}),
                pod(
                    "tolerates",
                    requests={"xilinx/aws-vu9p-f1": 1},
                    tolerations=[{"key": "burst", "operator": "Exists", "effect": "NoSchedule"}],
                ),
            ],
        }
    )
    decisions = {p["pod"]: p for p in report["pods"]}
    assert decisions["ml/tolerates"]["node_group"] == "f1-4xlarge-tainted"
    reason = decisions["ml/no-toleration"]["reason"]
    assert "taint burst=aws:NoSchedule is not tolerated" in reason
    assert "node selector inaccel/fpga=enabled does not match" in reason
    assert sizes(report) == {"f1-4xlarge-tainted": (0, 1)}


def test_higher_priority_group_is_used_whatever_the_price() -> None:
    report = run(
        {
            "node_groups": [
                group("cheap", "f1.2xlarge"),
                group("preferred", "f2.6xlarge", priority=10),
            ],
            "catalog": {
                "accelerators": {"acc": {"xilinx/aws-vu9p-f1": 1, "xilinx/aws-vu47p-f2": 1}}
            },
            "pods": [pod("a", accelerators={"acc": 1})],
        }
    )
    assert sizes(report) == {"preferred": (0, 1)}


def test_cheapest_set_for_all_pods_together_not_pod_by_pod() -> None:
    # One 3-board pod and one 1-board pod: pod by pod is f1.16xlarge + f1.2xlarge ($14.85);
    # together they fit one f1.16xlarge ($13.20).
    report = run(
        {
            "node_groups": [group("f1-2xlarge", "f1.2xlarge"), group("f1-16xlarge", "f1.16xlarge")],
            "pods": [
                pod("big", requests={"xilinx/aws-vu9p-f1": 3}),
                pod("small", requests={"xilinx/aws-vu9p-f1": 1}),
            ],
        }
    )
    assert sizes(report) == {"f1-16xlarge": (0, 1)}
    assert report["price_per_hour_added"] == pytest.approx(13.20)


def test_equal_price_goes_to_separate_instances_then_to_the_group_name() -> None:
    # A shared instance lives as long as the longer of its two jobs: at the same price per
    # hour, two instances of their own are expected to cost less over the day.
    two_small = run(
        {
            "node_groups": F1_GROUPS,
            "pods": [
                pod("a", requests={"xilinx/aws-vu9p-f1": 1}),
                pod("b", requests={"xilinx/aws-vu9p-f1": 1}),
            ],
        }
    )
    assert sizes(two_small) == {"f1-2xlarge": (0, 2)}
    twins = run(
        {
            "node_groups": [group("b-group", "f1.2xlarge"), group("a-group", "f1.2xlarge")],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 1})],
        }
    )
    assert sizes(twins) == {"a-group": (0, 1)}


@pytest.mark.parametrize(
    ("small", "expected"),
    [
        pytest.param({}, {"f2-6x": (0, 8)}, id="eight-pods-get-eight-small-instances"),
        pytest.param({"max_size": 5}, {"f2-48x": (0, 1)}, id="too-few-small-ones-left-share"),
        pytest.param({"priority": -1}, {"f2-48x": (0, 1)}, id="never-a-lower-priority-group"),
    ],
)
def test_unrelated_pods_share_a_big_instance_only_when_small_ones_cannot_take_them(
    small: dict[str, int], expected: dict[str, tuple[int, int]]
) -> None:
    report = run(
        {
            "node_groups": [
                group("f2-48x", "f2.48xlarge"),
                {**group("f2-6x", "f2.6xlarge", max_size=10), **small},
            ],
            "pods": [pod(f"p{i}", requests={"xilinx/aws-vu47p-f2": 1}) for i in range(8)],
        }
    )
    assert sizes(report) == expected
    assert report["price_per_hour_added"] == pytest.approx(15.84)


def test_max_size_is_never_exceeded_and_the_pods_left_out_say_why() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", max_size=1)],
            "pods": [pod(f"p{i}", requests={"xilinx/aws-vu9p-f1": 2}) for i in range(3)],
        }
    )
    assert sizes(report) == {"f1-4xlarge": (0, 1)}
    left = [p for p in report["pods"] if p["outcome"] == "unschedulable"]
    assert len(left) == 2
    assert all("max size" in p["reason"] for p in left)


def test_a_group_already_at_max_size_is_reported_as_such() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", max_size=1, desired=1)],
            "nodes": [managed_node("n", {"xilinx/aws-vu9p-f1": 2})],
            "pods": [
                {"name": "ml/run", "node": "n", "requests": {"xilinx/aws-vu9p-f1": 2}},
                pod("p", requests={"xilinx/aws-vu9p-f1": 2}),
            ],
        }
    )
    assert report["pods"][0]["reason"] == (
        "node groups that could host it cannot grow: f1-4xlarge: at its max size (1)"
    )


@pytest.mark.parametrize(
    ("policy", "groups_to", "cap"),
    [
        pytest.param({"max_boards": 4}, 2, "max_boards", id="max-boards"),
        pytest.param({"max_price_per_hour": 7.0}, 2, "max_price_per_hour", id="max-price"),
    ],
)
def test_policy_caps_limit_burst_capacity_across_groups_and_name_the_cap(
    policy: dict[str, Any], groups_to: int, cap: str
) -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", max_size=10)],
            "policy": policy,
            "pods": [pod(f"p{i}", requests={"xilinx/aws-vu9p-f1": 2}) for i in range(5)],
        }
    )
    assert sizes(report) == {"f1-4xlarge": (0, groups_to)}
    left = [p for p in report["pods"] if p["outcome"] == "unschedulable"]
    assert len(left) == 3
    assert all(f"policy cap {cap} reached" in p["reason"] for p in left)


def test_caps_count_capacity_that_already_exists_in_managed_groups() -> None:
    report = run(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", desired=1)],
            "nodes": [managed_node("n", {"xilinx/aws-vu9p-f1": 2})],
            "policy": {"max_boards": 2},
            "pods": [
                {"name": "ml/run", "node": "n", "requests": {"xilinx/aws-vu9p-f1": 2}},
                pod("p", requests={"xilinx/aws-vu9p-f1": 2}),
            ],
        }
    )
    assert report["scale_up"] == []
    assert "max_boards" in report["pods"][0]["reason"]


def plan_with_backoff(scenario: Any, name: str, reason: str) -> Plan:
    """Plans the scenario with node group `name` backed off (as AWS discovery reports it)."""
    groups = tuple(
        replace(g, backoff=reason) if g.name == name else g for g in scenario.snapshot.node_groups
    )
    return plan(replace(scenario.snapshot, node_groups=groups), scenario.policy)


def test_a_backed_off_group_is_skipped_and_another_group_takes_its_pods() -> None:
    scenario = parse(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge"), group("f1-16xlarge", "f1.16xlarge")],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 2})],
        },
        "t.yaml",
    )
    result = plan_with_backoff(scenario, "f1-4xlarge", "InsufficientInstanceCapacity")
    assert [(s.node_group, s.to_size) for s in result.scale_ups] == [("f1-16xlarge", 1)]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        pytest.param(
            {"accelerators": {"unknown.acc": 1}},
            "accelerator unknown.acc is not in the catalog",
            id="unknown-accelerator",
        ),
        pytest.param(
            {"requests": {"xilinx/u280": 1}},
            "no node group can host it (needs 1 x xilinx/u280",
            id="no-group-has-the-board",
        ),
        pytest.param(
            {"requests": {"xilinx/u250": 1, "xilinx/u280": 1}},
            "requests more than one kind of FPGA board",
            id="mixed-boards",
        ),
        pytest.param({}, "requests no FPGA boards", id="no-boards"),
    ],
)
def test_pods_nothing_can_host_get_a_reason_and_cause_no_scale_up(
    spec: dict[str, Any], reason: str
) -> None:
    from burst.core.model import Pod, Snapshot
    from burst.core.scaleup.planner import plan as plan_
    from burst.tools.scenario import parse as parse_

    base = parse_({"node_groups": F1_GROUPS, "catalog": {"accelerators": XGB}}, "t.yaml")
    the_pod = Pod(
        name="ml/x",
        node_selector=LABELS,
        requests=spec.get("requests", {}),
        accelerators=spec.get("accelerators", {}),
    )
    snapshot = Snapshot(base.snapshot.node_groups, (), (the_pod,), base.snapshot.catalog)
    result = plan_(snapshot, base.policy)
    assert result.scale_ups == ()
    assert result.pods[0].outcome is PodOutcome.UNSCHEDULABLE
    assert reason in (result.pods[0].reason or "")


def test_accelerator_replicas_round_up_to_whole_boards_per_alternative() -> None:
    report = run(
        {
            "catalog": {"accelerators": XGB},
            "node_groups": [group("f1-4xlarge", "f1.4xlarge")],
            "pods": [pod("a", accelerators={"com.inaccel.xgboost.exact": 3})],
        }
    )
    assert (report["pods"][0]["board"], report["pods"][0]["boards"]) == ("xilinx/aws-vu9p-f1", 2)


def test_many_identical_pods_get_instances_of_their_own_at_the_least_price() -> None:
    report = run(
        {
            "node_groups": [
                group("f1-2xlarge", "f1.2xlarge", max_size=50),
                group("f1-16xlarge", "f1.16xlarge", max_size=50),
            ],
            "pods": [pod(f"p{i:03}", requests={"xilinx/aws-vu9p-f1": 1}) for i in range(17)],
        }
    )
    assert sizes(report) == {"f1-2xlarge": (0, 17)}
    assert report["price_per_hour_added"] == pytest.approx(17 * 1.65)


def test_plan_is_deterministic_and_lists_every_pending_pod_once_in_name_order() -> None:
    doc = {
        "node_groups": F1_GROUPS,
        "pods": [pod(f"p{i}", requests={"xilinx/aws-vu9p-f1": 1 + i % 2}) for i in range(7)],
    }
    first, second = run(doc), run(doc)
    assert first == second
    assert [p["pod"] for p in first["pods"]] == sorted(f"ml/p{i}" for i in range(7))


def test_missing_instances_of_a_backed_off_group_are_not_counted_as_upcoming() -> None:
    scenario = parse(
        {
            "node_groups": [
                group("f1-4xlarge", "f1.4xlarge", desired=1),
                group("f1-16xlarge", "f1.16xlarge"),
            ],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 2})],
        },
        "t.yaml",
    )
    result = plan_with_backoff(scenario, "f1-4xlarge", "launch failed")
    assert result.pods[0].outcome is PodOutcome.SCALE_UP
    assert result.pods[0].node_group == "f1-16xlarge"


def test_a_pod_switches_board_kind_to_share_an_instance_instead_of_buying_another() -> None:
    # Alone, job-2 is cheapest on an f2.12xlarge ($3.96); but the f1.16xlarge that job-1
    # needs anyway has 7 idle VU9P boards, where job-2's other alternative (2 boards) fits.
    report = run(
        {
            "catalog": {
                "accelerators": {"xgb": {"xilinx/aws-vu9p-f1": 2, "xilinx/aws-vu47p-f2": 3}}
            },
            "node_groups": [
                group("f1-16xlarge", "f1.16xlarge"),
                group("f2-12xlarge", "f2.12xlarge"),
            ],
            "pods": [
                pod("job-1", requests={"xilinx/aws-vu9p-f1": 1}),
                pod("job-2", accelerators={"xgb": 4}),
            ],
        }
    )
    assert sizes(report) == {"f1-16xlarge": (0, 1)}
    assert report["price_per_hour_added"] == pytest.approx(13.20)


@pytest.mark.parametrize(
    ("node", "state", "upcoming"),
    [
        pytest.param({"ready": False}, "Pending:Wait", True, id="launching-not-ready"),
        pytest.param(
            {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
            "Pending:Wait",
            True,
            id="launching-not-ready-taint",
        ),
        pytest.param({"ready": False}, "InService", False, id="in-service-but-broken"),
    ],
)
def test_a_launching_node_not_ready_yet_is_upcoming_but_a_broken_one_is_not(
    node: dict[str, Any], state: str, upcoming: bool
) -> None:
    from burst.core.model import Instance

    scenario = parse(
        {
            "node_groups": [group("f1-4xlarge", "f1.4xlarge", desired=1)],
            "nodes": [managed_node("n", {"xilinx/aws-vu9p-f1": 2}, **node)],
            "pods": [pod("a", requests={"xilinx/aws-vu9p-f1": 2})],
        },
        "t.yaml",
    )
    snap = scenario.snapshot
    nodes = tuple(replace(n, instance_id="i-1") for n in snap.nodes)
    groups = tuple(replace(g, instances=(Instance("i-1", state),)) for g in snap.node_groups)
    result = plan(replace(snap, nodes=nodes, node_groups=groups), scenario.policy)
    assert result.pods[0].outcome is (PodOutcome.FITS_UPCOMING if upcoming else PodOutcome.SCALE_UP)


def test_a_cordoned_burst_node_is_neither_capacity_nor_an_instance_on_its_way() -> None:
    # GIVEN f1-2xlarge at desired 1 whose one node is registered but cordoned (emptying)
    report = run(
        {
            "node_groups": [group("f1-2xlarge", "f1.2xlarge", desired=1)],
            "nodes": [{"name": "burst-0", "node_group": "f1-2xlarge", "unschedulable": True,
                       "labels": LABELS, "allocatable": {"xilinx/aws-vu9p-f1": 1}}],
            "pods": [pod("job", requests={"xilinx/aws-vu9p-f1": 1})],
        }
    )
    # THEN the pending pod waits for no phantom instance: the group grows
    assert sizes(report) == {"f1-2xlarge": (1, 2)}
