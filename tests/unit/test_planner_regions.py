"""Regions in the planner: a per-region penalty ($/h per board) weighs groups, never the
price counted against the caps or reported; with every penalty 0 the plan is the plan."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_planner_properties import snapshots

from burst.core.errors import ConfigError
from burst.core.model import NodeGroup, Policy, Snapshot
from burst.core.scaleup.planner import plan
from burst.tools.report import to_json, to_table
from burst.tools.scenario import load, parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LABELS = {"inaccel/fpga": "enabled"}
REGIONS = ("us-east-1", "eu-west-2", "us-west-2")


def _in_regions(snapshot: Snapshot, picks: list[int]) -> Snapshot:
    groups = tuple(
        replace(g, region=REGIONS[picks[i % len(picks)]])
        for i, g in enumerate(snapshot.node_groups)
    )
    return replace(snapshot, node_groups=groups)


@settings(max_examples=150, deadline=None)
@given(snapshots(), st.lists(st.integers(0, 2), min_size=1, max_size=5))
def test_with_every_penalty_zero_groups_in_regions_get_the_plan_they_got_without(
    snapshot: Snapshot, picks: list[int]
) -> None:
    # GIVEN the same cluster, its groups spread over regions, all penalties 0
    zero = Policy(region_penalties=dict.fromkeys(REGIONS, 0.0))
    before = plan(snapshot, Policy())
    # WHEN planned with the regions recorded and the zero penalties named
    after = plan(_in_regions(snapshot, picks), zero)
    # THEN the same decisions, pod by pod, and the same price
    assert after.pods == before.pods
    assert [(s.node_group, s.from_size, s.to_size) for s in after.scale_ups] == [
        (s.node_group, s.from_size, s.to_size) for s in before.scale_ups
    ]
    assert after.price_per_hour_added == before.price_per_hour_added


def test_the_seed_scenario_plans_the_same_with_a_zero_penalty_for_its_region() -> None:
    scenario = load(EXAMPLES / "seed-evaluation.yaml")
    groups = tuple(replace(g, region="us-east-1") for g in scenario.snapshot.node_groups)
    zero = replace(scenario.policy, region_penalties={"us-east-1": 0.0})
    assert (plan(replace(scenario.snapshot, node_groups=groups), zero).pods
            == plan(scenario.snapshot, scenario.policy).pods)


def _two_regions(penalty: float | None) -> dict[str, Any]:
    policy: dict[str, Any] = {"expanders": ["price"]}
    if penalty is not None:
        policy["region_penalty_per_board_hour"] = {"eu-west-2": penalty}
    return {
        "node_groups": [
            {"name": "home-f2", "instance_type": "f2.6xlarge", "max_size": 4,
             "labels": LABELS, "region": "us-east-1"},
            # A bit cheaper: without a penalty the planner goes there.
            {"name": "london-f2", "instance_type": "f2.6xlarge-london", "max_size": 4,
             "labels": LABELS, "region": "eu-west-2"},
        ],
        "instance_types": {"f2.6xlarge-london": {"boards": {"xilinx/aws-vu47p-f2": 1},
                                                 "price_per_hour": 1.90}},
        "pods": [{"name": "ml/job", "node_selector": LABELS,
                  "requests": {"xilinx/aws-vu47p-f2": 1}}],
        "policy": policy,
    }


@pytest.mark.parametrize(
    ("penalty", "group", "price"),
    [
        pytest.param(None, "london-f2", 1.90, id="no-penalty-cheaper-region-wins"),
        # 1.90 + 1 board x 0.05 = 1.95 < 1.98
        pytest.param(0.05, "london-f2", 1.90, id="small-penalty-still-cheaper"),
        # 1.90 + 0.20 = 2.10 > 1.98: home wins, and the plan reports home's price
        pytest.param(0.20, "home-f2", 1.98, id="penalty-outweighs-price"),
    ],
)
def test_a_region_penalty_per_board_moves_the_choice_but_not_the_price_reported(
    penalty: float | None, group: str, price: float
) -> None:
    scenario = parse(_two_regions(penalty), "test.yaml")
    result = plan(scenario.snapshot, scenario.policy)
    assert [s.node_group for s in result.scale_ups] == [group]
    assert result.price_per_hour_added == pytest.approx(price)


def test_the_plan_report_names_each_scale_ups_region() -> None:
    scenario = parse(_two_regions(None), "test.yaml")
    result = plan(scenario.snapshot, scenario.policy)
    assert to_json(result)["scale_up"] == [
        {"node_group": "london-f2", "from": 0, "to": 1, "region": "eu-west-2"}
    ]
    assert "london-f2 (eu-west-2): 0 -> 1" in to_table(result)


def test_a_penalty_does_not_count_against_max_price_per_hour() -> None:
    # GIVEN a cap that the price fits and price + penalty would not
    doc = _two_regions(5.0)
    doc["node_groups"] = doc["node_groups"][1:]
    doc["policy"]["max_price_per_hour"] = 2.0
    scenario = parse(doc, "test.yaml")
    # THEN the only group still grows: the cap is about money, the penalty about weighing
    assert [s.node_group for s in plan(scenario.snapshot, scenario.policy).scale_ups] == [
        "london-f2"
    ]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        pytest.param("node_groups[0].region", "mars-north-1", "not an AWS region code",
                     id="group-region"),
        pytest.param("policy.region_penalty_per_board_hour.eu-west-9", 0.1,
                     "not an AWS region code", id="penalty-region"),
        pytest.param("policy.region_penalty_per_board_hour.eu-west-2", -1,
                     "must be >= 0", id="negative-penalty"),
    ],
)
def test_bad_regions_and_penalties_name_the_field(field: str, value: Any, problem: str) -> None:
    doc = _two_regions(0.1)
    if field.startswith("node_groups"):
        doc["node_groups"][0]["region"] = value
    else:
        region = field.rsplit(".", 1)[1]
        doc["policy"]["region_penalty_per_board_hour"] = {region: value}
    with pytest.raises(ConfigError) as caught:
        parse(doc, "test.yaml")
    assert field in str(caught.value) and problem in str(caught.value)


def test_a_group_without_a_region_has_no_penalty() -> None:
    group = NodeGroup("g", "f2.6xlarge", 0, 1, 0)
    assert group.region == ""
