"""Spot node groups in the deployment config and the construct: capacity_type, its label,
its price source, and the ASG's mixed instances policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from burst.core.asgtags import LABEL_PREFIX
from burst.core.errors import ConfigError
from burst.core.spot import CAPACITY_TYPE_LABEL, SPOT_PRICE_LIVE_TAG, SPOT_PRICE_TAG
from burst.tools.deploy.config import parse
from burst.tools.deploy.groups import NodeGroupConfig
from burst.tools.deploy.tags import autoscaler_tags
from stacks.joindata import JoinParameter, NodeSecrets
from stacks.nodegroup import user_data
from stacks.nodegroup.construct import NodeAccess, NodeGroup

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "fpga-burst.yaml").read_text())


def with_first_group(**fields: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DEMO)
    doc["node_groups"][0].update(fields)
    return doc


def first(**fields: Any) -> NodeGroupConfig:
    return parse(with_first_group(**fields)).node_groups[0]


def test_a_group_is_on_demand_unless_it_says_spot_and_its_label_says_which() -> None:
    on_demand = first()
    assert (on_demand.capacity_type, on_demand.labels[CAPACITY_TYPE_LABEL]) == ("on-demand",) * 2
    spot = first(capacity_type="spot", spot_price_per_hour=0.67)
    assert (spot.capacity_type, spot.labels[CAPACITY_TYPE_LABEL]) == ("spot", "spot")
    assert (spot.spot_price_per_hour, spot.spot_price_live) == (0.67, False)
    assert first(capacity_type="spot", spot_price_live=True).spot_price_per_hour is None


def test_the_capacity_type_label_reaches_the_planner_tags_and_the_kubelet() -> None:
    spot = first(capacity_type="spot", spot_price_per_hour=0.67, spot_price_live=True)
    tags = autoscaler_tags(spot, "inaccel")
    assert tags[f"{LABEL_PREFIX}{CAPACITY_TYPE_LABEL}"] == "spot"
    assert (tags[SPOT_PRICE_TAG], tags[SPOT_PRICE_LIVE_TAG]) == ("0.67", "true")
    settings = user_data.settings(region="us-east-1", join_parameter="/p", vpn_secret_arn="arn",
                                  joined_profile="j",
                                  labels=spot.labels, taints=spot.taints)
    assert f"{CAPACITY_TYPE_LABEL}=spot" in settings["FPGA_BURST_NODE_LABELS"].split(",")
    assert SPOT_PRICE_TAG not in autoscaler_tags(first(), "inaccel")


BAD: dict[str, tuple[Callable[[], dict[str, Any]], str, str]] = {
    "spot without a price source": (
        lambda: with_first_group(capacity_type="spot"),
        "node_groups[0].spot_price_per_hour", "a Spot group needs a price source"),
    "unknown capacity type": (
        lambda: with_first_group(capacity_type="reserved"),
        "node_groups[0].capacity_type", "'reserved' is not one of on-demand, spot"),
    "price that is not a price": (
        lambda: with_first_group(capacity_type="spot", spot_price_per_hour="cheap"),
        "node_groups[0].spot_price_per_hour", "is not a price per hour > 0"),
    "negative price": (
        lambda: with_first_group(capacity_type="spot", spot_price_per_hour=-1),
        "node_groups[0].spot_price_per_hour", "is not a price per hour > 0"),
    "live that is not a boolean": (
        lambda: with_first_group(capacity_type="spot", spot_price_live="yes"),
        "node_groups[0].spot_price_live", "must be true or false"),
    "spot price on an on-demand group": (
        lambda: with_first_group(spot_price_per_hour=0.67),
        "node_groups[0].spot_price_per_hour", "is for a Spot group only"),
    "capacity-type label set by hand": (
        lambda: with_first_group(labels={CAPACITY_TYPE_LABEL: "spot"}),
        f"node_groups[0].labels.{CAPACITY_TYPE_LABEL}", "is set from capacity_type"),
}


@pytest.mark.parametrize(("doc", "field", "problem"), BAD.values(), ids=BAD.keys())
def test_a_bad_spot_setting_is_one_line_naming_the_field(
    doc: Callable[[], dict[str, Any]], field: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(doc())
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert "\n" not in str(caught.value)


def synth(group: NodeGroupConfig) -> dict[str, Any]:
    """The group's ASG properties, from a bare stack holding only the node constructs."""
    stack = Stack(App(), "Nodes", env=Environment(account="123456789012", region="us-east-1"))
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0",
                                      availability_zones=["us-east-1a"])
    subnet = ec2.Subnet.from_subnet_attributes(stack, "S", subnet_id="subnet-0123456789abcdef0",
                                               availability_zone="us-east-1a")
    join = JoinParameter(name="/j", arn="arn:aws:ssm:us-east-1:123456789012:parameter/j",
                         key=kms.Key(stack, "Key"), key_alias="alias/j")
    access = NodeAccess(stack, "Access", vpc=vpc, onprem_cidr="192.168.0.0/16",
                        secrets=NodeSecrets(join=join, vpn_secret_arn="arn:aws:sm:x"),
                        cluster_name="inaccel")
    NodeGroup(stack, "Group", group=group, vpc=vpc, subnets=[subnet], access=access,
              image_id=group.ami_id or "ami-0123456789abcdef0")
    found = Template.from_stack(stack).find_resources("AWS::AutoScaling::AutoScalingGroup")
    (asg,) = found.values()
    props: dict[str, Any] = asg["Properties"]
    return props


def test_a_spot_group_is_an_all_spot_mixed_instances_policy_of_its_one_type() -> None:
    props = synth(first(capacity_type="spot", spot_price_per_hour=0.67))
    assert "LaunchTemplate" not in props
    policy = props["MixedInstancesPolicy"]
    assert policy["InstancesDistribution"] == {
        "OnDemandBaseCapacity": 0,
        "OnDemandPercentageAboveBaseCapacity": 0,
        "SpotAllocationStrategy": "price-capacity-optimized",
    }
    overrides = policy["LaunchTemplate"]["Overrides"]
    assert overrides == [{"InstanceType": "f2.6xlarge"}]
    assert "LaunchTemplateId" in policy["LaunchTemplate"]["LaunchTemplateSpecification"]


def test_an_on_demand_group_keeps_its_plain_launch_template() -> None:
    props = synth(first())
    assert "MixedInstancesPolicy" not in props
    assert "LaunchTemplateId" in props["LaunchTemplate"]
