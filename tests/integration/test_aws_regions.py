"""The AWS adapter over several regions, against moto (each region's resources apart).

Discovery looks in the home region and every configured other region and records each
group's region; writes go to the group's region, also from a fresh adapter that has not
discovered anything (the lifecycle function acts on one group by name). moto does not
implement CompleteLifecycleAction: a Stubber scoped to that operation stands in on the
Sydney client only, so a call sent to the wrong region's client would reach moto and fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import motogroups
import pytest
from awsfakes import OperationStubber
from moto import mock_aws

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.ports.aws import LifecycleResult

HOME, SYDNEY, LONDON = "us-east-1", "ap-southeast-2", "eu-west-2"
CLUSTER = "onprem"
CA = "k8s.io/cluster-autoscaler/"
PLAIN = AwsSettings(region=HOME)


@pytest.fixture
def moto() -> Iterator[boto3.Session]:
    with mock_aws():
        yield boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=HOME)


def make_group(s: boto3.Session, region: str, name: str, desired: int = 0) -> None:
    tags = dict.fromkeys((CA + "enabled", CA + CLUSTER), "owned")
    motogroups.make_group(s, name, tags, region=region, desired=desired)


def group_in(s: boto3.Session, region: str, name: str) -> dict[str, object]:
    found = s.client("autoscaling", region_name=region).describe_auto_scaling_groups(
        AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return dict(found[0]) if found else {}


def test_discovery_covers_the_configured_regions_and_records_each_groups_region(
    moto: boto3.Session,
) -> None:
    # GIVEN groups at home, in Sydney (configured) and in London (not configured)
    make_group(moto, HOME, "home-f1")
    make_group(moto, SYDNEY, "syd-f1", desired=1)
    make_group(moto, LONDON, "lon-f1")
    # WHEN the groups are discovered with Sydney configured
    groups = Aws(moto, PLAIN, regions=(SYDNEY,)).groups.discover_node_groups(CLUSTER)
    # THEN home and Sydney groups are found, each with its region, instances included
    assert [(g.name, g.region) for g in groups] == [("home-f1", HOME), ("syd-f1", SYDNEY)]
    (sydney,) = [g for g in groups if g.region == SYDNEY]
    assert sydney.instance_type == "f1.4xlarge"  # from Sydney's launch template
    assert [i.availability_zone for i in sydney.instances] == [f"{SYDNEY}a"]
    # AND without configured regions, only home's
    assert [g.name for g in Aws(moto, PLAIN).groups.discover_node_groups(CLUSTER)] == [
        "home-f1"]


def test_a_fresh_adapter_scales_and_terminates_in_the_groups_own_region(
    moto: boto3.Session,
) -> None:
    make_group(moto, HOME, "home-f1")
    make_group(moto, SYDNEY, "syd-f1")
    # WHEN a fresh adapter (nothing discovered) raises the Sydney group
    change = Aws(moto, PLAIN, regions=(SYDNEY,)).capacity.raise_desired_capacity("syd-f1", 1)
    # THEN it is raised in Sydney
    assert (change.from_size, change.to_size) == (0, 1)
    assert group_in(moto, SYDNEY, "syd-f1")["DesiredCapacity"] == 1
    assert group_in(moto, HOME, "syd-f1") == {}
    # WHEN another fresh adapter terminates its instance by id
    aws = Aws(moto, PLAIN, regions=(SYDNEY,))
    (instance,) = aws.groups.instances("syd-f1")
    assert Aws(moto, PLAIN, regions=(SYDNEY,)).capacity.terminate_instance(instance.instance_id)
    # THEN the Sydney group's desired capacity went down with it
    assert group_in(moto, SYDNEY, "syd-f1")["DesiredCapacity"] == 0


def test_a_lifecycle_action_is_completed_in_the_groups_region(moto: boto3.Session) -> None:
    make_group(moto, SYDNEY, "syd-f1")
    aws = Aws(moto, PLAIN, regions=(SYDNEY,))
    sydney = aws.regions.client("autoscaling", SYDNEY)
    assert sydney is not aws.client("autoscaling")
    with OperationStubber(sydney, "CompleteLifecycleAction") as stub:
        stub.add_response("complete_lifecycle_action", {}, {
            "AutoScalingGroupName": "syd-f1", "LifecycleHookName": "fpga-burst-launch",
            "InstanceId": "i-0a1b2c3d4e5f60718", "LifecycleActionResult": "CONTINUE"})
        aws.lifecycle.complete_lifecycle_action(
            "syd-f1", "fpga-burst-launch", "i-0a1b2c3d4e5f60718", LifecycleResult.CONTINUE)
        stub.assert_no_pending_responses()
    assert aws.regions.of_group("syd-f1") == SYDNEY


def test_one_client_per_service_and_region_created_once(moto: boto3.Session) -> None:
    aws = Aws(moto, PLAIN, regions=(SYDNEY,))
    assert aws.regions.all == (HOME, SYDNEY)
    first = aws.regions.client("ssm", SYDNEY)
    assert aws.regions.client("ssm", SYDNEY) is first
    assert first.meta.region_name == SYDNEY
    assert aws.regions.client("ssm", HOME) is aws.client("ssm")
