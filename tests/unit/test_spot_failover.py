"""Spot groups, failover after a failed launch, and the F vCPU quota, through the planner.

GIVEN groups of both capacity types, sizes and AZs, WHEN one of them is backed off by a
launch failure of each kind (replayed from its scaling activities, as the scaler does) or
the quota runs out, THEN the plan sends the pods to the next-best group, or says why not.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from burst.core.catalog import F2_BOARD, INSTANCE_TYPES
from burst.core.model import (
    Catalog,
    Instance,
    NodeGroup,
    Plan,
    Pod,
    PodOutcome,
    Policy,
    Snapshot,
    VcpuQuota,
)
from burst.core.quota import remaining
from burst.core.scaleup.backoff import ScalingActivity, with_backoff
from burst.core.scaleup.planner import plan
from burst.core.spot import CAPACITY_TYPE_LABEL, ON_DEMAND, SPOT, price_per_hour

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
CATALOG = Catalog(instance_types={
    **INSTANCE_TYPES,
    "f2.6xlarge": replace(INSTANCE_TYPES["f2.6xlarge"], spot_price_per_hour=0.67),
})


def group(name: str, instance_type: str = "f2.6xlarge", kind: str = ON_DEMAND,
          **extra: object) -> NodeGroup:
    return NodeGroup(name=name, instance_type=instance_type, min_size=0, max_size=4, desired=0,
                     labels={CAPACITY_TYPE_LABEL: kind}, **extra)  # type: ignore[arg-type]


def pods(n: int, **extra: object) -> tuple[Pod, ...]:
    return tuple(Pod(name=f"ml/job-{i}", requests={F2_BOARD: 1}, **extra)  # type: ignore[arg-type]
                 for i in range(n))


def run(groups: list[NodeGroup], pending: tuple[Pod, ...], quota: VcpuQuota | None = None,
        catalog: Catalog = CATALOG) -> Plan:
    snapshot = Snapshot(node_groups=tuple(groups), pods=pending, catalog=catalog,
                        vcpu_quota=quota)
    return plan(snapshot, Policy(expanders=("price",)))


def targets(result: Plan) -> set[str | None]:
    return {d.node_group for d in result.pods}


def failed_at(g: NodeGroup, message: str) -> NodeGroup:
    """The group as observe sees it after one launch failed a minute ago with `message`."""
    activity = ScalingActivity(
        activity_id="a-1", status_code="Failed", start_time=NOW - timedelta(minutes=1),
        end_time=NOW - timedelta(minutes=1),
        description="Launching a new EC2 instance.  Status Reason: " + message,
        status_message=message)
    return with_backoff(replace(g, desired=1), [activity], NOW)


SPOT_ICE = "There is no Spot capacity available that matches your request."
ICE = ("We currently do not have sufficient f2.6xlarge capacity in the Availability Zone you "
       "requested (us-east-1a).")
SPOT_LIMIT = "Max spot instance count exceeded"
VCPU = "You have requested more vCPU capacity than your current vCPU limit of 0 allows"
AMI = "The image id '[ami-0123456789abcdef0]' does not exist"


def test_a_spot_group_is_priced_at_its_spot_price_and_preferred_for_it() -> None:
    groups = [group("od"), group("spot", kind=SPOT)]
    result = run(groups, pods(2))
    assert targets(result) == {"spot"}
    assert result.price_per_hour_added == pytest.approx(2 * 0.67)


def test_a_group_price_observed_live_outranks_the_catalog() -> None:
    live = group("spot", kind=SPOT, price_per_hour=2.5)
    assert price_per_hour(live, CATALOG) == 2.5
    assert targets(run([group("od"), live], pods(1))) == {"od"}  # 1.98 < 2.5


def test_a_spot_group_with_no_price_anywhere_is_never_priced_as_on_demand() -> None:
    result = run([group("spot", kind=SPOT)], pods(1),
                 catalog=Catalog(instance_types=dict(INSTANCE_TYPES)))
    assert result.pods[0].outcome is PodOutcome.UNSCHEDULABLE
    assert "spot: instance type f2.6xlarge has no known Spot price" in (result.pods[0].reason or "")


def test_a_pod_that_refuses_spot_never_lands_on_a_spot_group() -> None:
    refuses = pods(2, node_selector={CAPACITY_TYPE_LABEL: ON_DEMAND})
    assert targets(run([group("od"), group("spot", kind=SPOT)], refuses)) == {"od"}
    alone = run([group("spot", kind=SPOT)], refuses)
    assert {d.outcome for d in alone.pods} == {PodOutcome.UNSCHEDULABLE}
    assert f"{CAPACITY_TYPE_LABEL}" in (alone.pods[0].reason or "")


FAILOVER = {
    "spot capacity: spot -> on-demand": (
        [group("spot", kind=SPOT), group("od")], "spot", SPOT_ICE, "od"),
    "spot limit: spot -> on-demand": (
        [group("spot", kind=SPOT), group("od")], "spot", SPOT_LIMIT, "od"),
    "capacity: one AZ -> the other": (
        [group("od-1a"), group("od-1b", priority=0)], "od-1a", ICE, "od-1b"),
    "vcpu quota: on-demand -> spot": (
        [group("od"), group("spot", kind=SPOT, price_per_hour=3.0)], "od", VCPU, "spot"),
    "ami: this size -> the next size": (
        [group("f2-6x"), group("f2-12x", "f2.12xlarge")], "f2-6x", AMI, "f2-12x"),
}


@pytest.mark.parametrize(("groups", "failing", "message", "next_best"), FAILOVER.values(),
                         ids=FAILOVER.keys())
def test_after_a_launch_failure_the_next_tick_sends_the_pods_to_the_next_best_group(
    groups: list[NodeGroup], failing: str, message: str, next_best: str
) -> None:
    before = run(groups, pods(1))
    assert targets(before) == {failing}  # the failing group was the first choice
    after = run([failed_at(g, message) if g.name == failing else g for g in groups], pods(1))
    assert targets(after) == {next_best}
    assert after.scale_ups[0].node_group == next_best


def test_with_nowhere_else_to_go_the_pod_reason_names_the_failure_kind_and_remedy() -> None:
    result = run([failed_at(group("od"), VCPU)], pods(1))
    reason = result.pods[0].reason or ""
    assert result.pods[0].outcome is PodOutcome.UNSCHEDULABLE
    assert ("od: backed off: launch failed at 11:59 (vCPU quota exceeded: VcpuLimitExceeded"
            in reason)
    assert "raise the quota Running On-Demand F instances (L-74FC7D96)" in reason


def test_the_planner_never_asks_beyond_the_f_vcpu_quota_and_says_so_on_the_pod() -> None:
    # 96 vCPUs of on-demand quota, 48 taken by instances outside the groups: 2 x f2.6xlarge.
    quota = VcpuQuota(limits={ON_DEMAND: 96}, used_elsewhere={ON_DEMAND: 48})
    result = run([group("od")], pods(3), quota)
    assert [(s.from_size, s.to_size) for s in result.scale_ups] == [(0, 2)]
    refused = [d for d in result.pods if d.outcome is PodOutcome.UNSCHEDULABLE]
    assert len(refused) == 1
    assert "on-demand F vCPU quota (Running On-Demand F instances, L-74FC7D96; 48 vCPUs left)" \
        in (refused[0].reason or "")


def test_each_capacity_type_spends_its_own_quota() -> None:
    quota = VcpuQuota(limits={ON_DEMAND: 24, SPOT: 0})
    result = run([group("od"), group("spot", kind=SPOT)], pods(2), quota)
    assert targets(result) == {"od", None}
    assert [(s.node_group, s.to_size) for s in result.scale_ups] == [("od", 1)]


def test_quota_left_counts_groups_at_desired_or_instance_count_and_others_in_the_region() -> None:
    groups = [
        replace(group("od"), desired=2),  # 2 asked for, none launched yet: 48
        replace(group("od2", "f1.2xlarge"), desired=0,
                instances=(Instance("i-1", "Terminating:Wait"),)),  # still there: 8
        replace(group("spot", kind=SPOT), desired=1),  # 24 of the Spot quota
    ]
    quota = VcpuQuota(limits={ON_DEMAND: 128, SPOT: 64}, used_elsewhere={ON_DEMAND: 16})
    assert remaining(quota, groups, CATALOG) == {ON_DEMAND: 128 - 16 - 48 - 8, SPOT: 40}
    assert remaining(VcpuQuota(limits={ON_DEMAND: 8}), groups, CATALOG) == {ON_DEMAND: 0}


def test_no_quota_known_means_no_quota_limit() -> None:
    assert len(run([group("od")], pods(4), None).scale_ups[0:1]) == 1
    assert run([group("od")], pods(4), None).scale_ups[0].to_size == 4
