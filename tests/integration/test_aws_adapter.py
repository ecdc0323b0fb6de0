"""The AWS adapter against moto, in-process and as a moto_server subprocess.

moto 5.2.1 answers DescribeScalingActivities with an empty list and does not implement
CompleteLifecycleAction or RecordLifecycleActionHeartbeat; for those operations only, a
botocore Stubber scoped to the one operation stands in (awsfakes.OperationStubber), and moto
answers everything else.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from awsfakes import OperationStubber
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber
from moto import mock_aws
from motogroups import make_group

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.core.catalog import F1_BOARD
from burst.core.errors import (
    AwsError,
    AwsThrottledError,
    AwsUnavailableError,
    ClusterCredentialsError,
    LifecycleActionNotFoundError,
    NodeGroupNotFoundError,
    TransientError,
)
from burst.core.model import Taint
from burst.loop import config as config_mod
from burst.loop import observe
from burst.ports.aws import ClusterCredentials, JoinData, LifecycleResult
from burst.tools.harness import moto as harness_moto  # `moto` is this module's fixture
from burst.tools.harness.net import free_port

REGION = "us-east-1"
CLUSTER = "onprem"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CA = "k8s.io/cluster-autoscaler/"
TEMPLATE = CA + "node-template/"
SECRET_TOKEN = "abcdef.0123456789abcdef"
PLAIN = AwsSettings(region=REGION)
# Few attempts keep the retry sleeps of a throttling test short.
FAST = AwsSettings(region=REGION, max_attempts=2, connect_timeout=1, read_timeout=5)


def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@pytest.fixture
def moto() -> Iterator[boto3.Session]:
    with mock_aws():
        yield session()


def cluster_tags(cluster: str = CLUSTER, **extra: str) -> dict[str, str]:
    return {CA + "enabled": "true", CA + cluster: "owned", **extra}


def stubbed(
    s: boto3.Session, settings: AwsSettings, *operations: str
) -> tuple[Aws, OperationStubber]:
    """An adapter, and a Stubber answering its Auto Scaling client's `operations` only."""
    aws = Aws(s, settings)
    return aws, OperationStubber(aws.client("autoscaling"), *operations)


def desired_of(s: boto3.Session, name: str) -> int:
    groups = s.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return int(groups["AutoScalingGroups"][0]["DesiredCapacity"])


# -- discovery -------------------------------------------------------------------------


def test_discovery_finds_only_groups_tagged_enabled_and_for_this_cluster(
    moto: boto3.Session,
) -> None:
    # GIVEN groups for this cluster, another cluster, and half-tagged ones
    make_group(moto, "f1-4xlarge", cluster_tags())
    make_group(moto, "f1-2xlarge", cluster_tags(), instance_type="f1.2xlarge")
    make_group(moto, "other-cluster", cluster_tags("elsewhere"))
    make_group(moto, "enabled-only", {CA + "enabled": "true"})
    make_group(moto, "cluster-only", {CA + CLUSTER: "owned"})
    make_group(moto, "untagged", {})
    # WHEN node groups are discovered
    groups = Aws(moto, PLAIN).groups.discover_node_groups(CLUSTER)
    # THEN only the two groups tagged for this cluster are seen
    assert [g.name for g in groups] == ["f1-2xlarge", "f1-4xlarge"]
    assert [g.instance_type for g in groups] == ["f1.2xlarge", "f1.4xlarge"]


def test_discovery_reads_labels_taints_boards_and_priority_from_cluster_autoscaler_tags(
    moto: boto3.Session,
) -> None:
    make_group(
        moto,
        "f1-4xlarge",
        cluster_tags(
            **{
                TEMPLATE + "label/fpga-burst.io/node-group": "f1-4xlarge",
                TEMPLATE + "label/node.kubernetes.io/lifecycle": "burst",
                TEMPLATE + "taint/fpga-burst.io/burst": "true:NoSchedule",
                TEMPLATE + "taint/ignored": "no-effect",
                TEMPLATE + f"resources/{F1_BOARD}": "2",
                TEMPLATE + "resources/cpu": "16",
                "fpga-burst.io/priority": "10",
            }
        ),
        max_size=3,
    )
    (group,) = Aws(moto, PLAIN).groups.discover_node_groups(CLUSTER)
    assert group.labels == {
        "fpga-burst.io/node-group": "f1-4xlarge",
        "node.kubernetes.io/lifecycle": "burst",
    }
    assert group.taints == (Taint("fpga-burst.io/burst", "true", "NoSchedule"),)
    assert group.boards == {F1_BOARD: 2}
    assert (group.priority, group.min_size, group.max_size, group.desired) == (10, 0, 3, 0)
    assert group.backoff is None


def test_discovery_falls_back_to_the_instance_type_table_for_boards_without_resource_tags(
    moto: boto3.Session,
) -> None:
    make_group(moto, "f1-2xlarge", cluster_tags(), instance_type="f1.2xlarge")
    make_group(moto, "mystery", cluster_tags(), instance_type="x9.large")
    aws = Aws(moto, PLAIN)
    by_name = {g.name: g for g in aws.groups.discover_node_groups(CLUSTER)}
    assert by_name["f1-2xlarge"].boards == {F1_BOARD: 1}
    assert by_name["mystery"].boards == {}
    custom = {g.name: g for g in aws.groups.discover_node_groups(CLUSTER, instance_types={})}
    assert custom["f1-2xlarge"].boards == {}


def _with_launch_configuration(s: boto3.Session, name: str) -> dict[str, Any]:
    s.client("autoscaling").create_launch_configuration(
        LaunchConfigurationName=f"lc-{name}", ImageId="ami-03cf127a", InstanceType="f1.2xlarge"
    )
    return {"LaunchConfigurationName": f"lc-{name}"}


def _with_mixed_instances(s: boto3.Session, name: str) -> dict[str, Any]:
    template = s.client("ec2").create_launch_template(
        LaunchTemplateName=f"lt-{name}",
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "f1.4xlarge"},
    )["LaunchTemplate"]
    return {"MixedInstancesPolicy": {"LaunchTemplate": {
        "LaunchTemplateSpecification": {"LaunchTemplateId": template["LaunchTemplateId"]},
        "Overrides": [{"InstanceType": "f1.2xlarge"}, {"InstanceType": "f1.4xlarge"}],
    }}}


def _with_template_by_name(s: boto3.Session, name: str) -> dict[str, Any]:
    s.client("ec2").create_launch_template(
        LaunchTemplateName=f"lt-{name}",
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "f1.2xlarge"},
    )
    return {"LaunchTemplate": {"LaunchTemplateName": f"lt-{name}", "Version": "$Default"}}


SOURCES = {
    "launch configuration": _with_launch_configuration,
    "mixed instances policy: first override, as CA": _with_mixed_instances,
    "launch template by name and $Default": _with_template_by_name,
}


@pytest.mark.parametrize("source", SOURCES.values(), ids=SOURCES.keys())
def test_discovery_reads_the_instance_type_wherever_the_group_defines_it(
    moto: boto3.Session, source: Any
) -> None:
    moto.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="f1-2xlarge", MinSize=0, MaxSize=2, DesiredCapacity=0,
        AvailabilityZones=[f"{REGION}a"],
        Tags=[{"Key": k, "Value": v, "ResourceId": "f1-2xlarge",
               "ResourceType": "auto-scaling-group"} for k, v in cluster_tags().items()],
        **source(moto, "f1-2xlarge"),
    )
    (group,) = Aws(moto, PLAIN).groups.discover_node_groups(CLUSTER)
    assert (group.instance_type, group.boards) == ("f1.2xlarge", {F1_BOARD: 1})


def test_discovery_follows_pages_beyond_the_fifty_groups_of_one_page(
    moto: boto3.Session,
) -> None:
    for i in range(55):
        make_group(moto, f"g{i:02d}", cluster_tags())
    groups = Aws(moto, PLAIN).groups.discover_node_groups(CLUSTER)
    assert len(groups) == 55


def test_discovery_and_instances_report_lifecycle_state_and_zone_of_each_instance(
    moto: boto3.Session,
) -> None:
    make_group(moto, "f1-4xlarge", cluster_tags(), desired=2)
    aws = Aws(moto, PLAIN)
    (group,) = aws.groups.discover_node_groups(CLUSTER)
    assert len(group.instances) == 2
    assert {(i.lifecycle_state, i.availability_zone) for i in group.instances} == {
        ("InService", f"{REGION}a")
    }
    assert aws.groups.instances("f1-4xlarge") == group.instances


def test_instances_of_an_unknown_group_raise_node_group_not_found(moto: boto3.Session) -> None:
    with pytest.raises(NodeGroupNotFoundError, match="no-such-group"):
        Aws(moto, PLAIN).groups.instances("no-such-group")


def _failed_launch(minutes_ago: int, activity_id: str) -> dict[str, Any]:
    end = NOW - timedelta(minutes=minutes_ago)
    message = (
        "We currently do not have sufficient f1.4xlarge capacity in the Availability Zone "
        "you requested (us-east-1a). Launching EC2 instance failed."
    )
    return {
        "ActivityId": activity_id,
        "AutoScalingGroupName": "f1-4xlarge",
        "Description": "Launching a new EC2 instance.  Status Reason: " + message,
        "Cause": "At 2026-11-27T11:50:00Z an instance was started in response to a difference "
        "between desired and actual capacity, increasing the capacity from 0 to 1.",
        "StartTime": end - timedelta(seconds=3),
        "EndTime": end,
        "StatusCode": "Failed",
        "StatusMessage": message,
        "Progress": 100,
    }


def test_observed_groups_are_backed_off_after_insufficient_capacity_in_their_activities(
    moto: boto3.Session,
) -> None:
    # GIVEN two groups, one whose last two launches failed for lack of capacity
    make_group(moto, "f1-4xlarge", cluster_tags())
    make_group(moto, "f1-2xlarge", cluster_tags(), instance_type="f1.2xlarge")
    aws, stub = stubbed(moto, PLAIN, "DescribeScalingActivities")
    # newest first, as AWS returns them; groups are asked in name order
    stub.add_response("describe_scaling_activities", {"Activities": []},
                      {"AutoScalingGroupName": "f1-2xlarge"})
    stub.add_response(
        "describe_scaling_activities",
        {"Activities": [_failed_launch(2, "b"), _failed_launch(10, "a")]},
        {"AutoScalingGroupName": "f1-4xlarge"},
    )
    # WHEN observed, moto answering everything but the activities
    with stub:
        found = observe.node_groups(aws.groups, config_mod.load({}, cluster_name=CLUSTER), NOW)
    groups = {g.name: g for g in found}
    # THEN the failing group is backed off 10 min after its second failure, the other not
    reason = groups["f1-4xlarge"].backoff
    assert reason is not None
    assert reason.startswith(
        "launch failed at 11:58 (insufficient capacity: InsufficientInstanceCapacity: We currently"
    )
    assert reason.endswith("backed off until 12:08 (2 failures in a row)")
    assert groups["f1-2xlarge"].backoff is None
    stub.assert_no_pending_responses()


def test_scaling_activities_follow_pages_and_stop_at_the_lookback_horizon(
    moto: boto3.Session,
) -> None:
    aws, stub = stubbed(moto, PLAIN, "DescribeScalingActivities")
    stub.add_response(
        "describe_scaling_activities",
        {"Activities": [_failed_launch(1, "p1")], "NextToken": "page-2"},
        {"AutoScalingGroupName": "f1-4xlarge"},
    )
    stub.add_response(
        "describe_scaling_activities",
        {"Activities": [_failed_launch(50, "p2"), _failed_launch(500, "old")],
         "NextToken": "page-3"},
        {"AutoScalingGroupName": "f1-4xlarge", "NextToken": "page-2"},
    )
    with stub:
        found = aws.groups.scaling_activities("f1-4xlarge", since=NOW - timedelta(hours=6))
    # page 3 is never asked for: page 2 already reached activities older than `since`
    assert [a.activity_id for a in found] == ["p1", "p2"]
    stub.assert_no_pending_responses()


# -- raising and terminating ---------------------------------------------------------


RAISES = {
    "from zero to two": (0, 2, 2, False),
    "clamped to max size and reported": (1, 9, 4, True),
    "already at target: no change": (2, 2, 2, False),
    "above target: never lowered": (3, 1, 3, False),
}


@pytest.mark.parametrize(("desired", "target", "after", "clamped"), RAISES.values(),
                         ids=RAISES.keys())
def test_raise_desired_capacity_never_exceeds_max_and_never_lowers(
    moto: boto3.Session, desired: int, target: int, after: int, clamped: bool
) -> None:
    make_group(moto, "f1-4xlarge", cluster_tags(), desired=desired, max_size=4)
    change = Aws(moto, PLAIN).capacity.raise_desired_capacity("f1-4xlarge", target)
    assert (change.from_size, change.to_size, change.requested, change.clamped) == (
        desired, after, target, clamped
    )
    assert change.changed == (after != desired)
    assert desired_of(moto, "f1-4xlarge") == after


def test_raise_desired_capacity_twice_is_idempotent(moto: boto3.Session) -> None:
    make_group(moto, "f1-4xlarge", cluster_tags())
    aws = Aws(moto, PLAIN)
    first = aws.capacity.raise_desired_capacity("f1-4xlarge", 1)
    second = aws.capacity.raise_desired_capacity("f1-4xlarge", 1)
    assert (first.changed, second.changed) == (True, False)
    assert desired_of(moto, "f1-4xlarge") == 1


def test_raise_desired_capacity_of_unknown_group_raises_node_group_not_found(
    moto: boto3.Session,
) -> None:
    with pytest.raises(NodeGroupNotFoundError):
        Aws(moto, PLAIN).capacity.raise_desired_capacity("gone", 1)


def test_raise_desired_capacity_logs_a_warning_when_clamped_to_max(
    moto: boto3.Session, caplog: pytest.LogCaptureFixture
) -> None:
    make_group(moto, "f1-4xlarge", cluster_tags(), max_size=1)
    with caplog.at_level(logging.INFO, logger="burst.adapters.aws.capacity"):
        Aws(moto, PLAIN).capacity.raise_desired_capacity("f1-4xlarge", 3)
    assert "clamped to max size 1 (asked for 3)" in caplog.text


def test_terminate_instance_decrements_desired_and_a_repeat_is_a_no_op(
    moto: boto3.Session,
) -> None:
    # GIVEN a group with two running instances
    make_group(moto, "f1-4xlarge", cluster_tags(), desired=2)
    aws = Aws(moto, PLAIN)
    victim, survivor = aws.groups.instances("f1-4xlarge")
    # WHEN one is terminated by name, twice
    first = aws.capacity.terminate_instance(victim.instance_id)
    second = aws.capacity.terminate_instance(victim.instance_id)
    # THEN desired capacity went down by one, the other instance stayed, the repeat did nothing
    assert (first, second) == (True, False)
    assert desired_of(moto, "f1-4xlarge") == 1
    assert [i.instance_id for i in aws.groups.instances("f1-4xlarge")] == [survivor.instance_id]


def test_terminate_an_instance_in_no_group_is_a_no_op(moto: boto3.Session) -> None:
    assert Aws(moto, PLAIN).capacity.terminate_instance("i-0123456789abcdef0") is False


def test_terminate_an_instance_already_terminating_is_a_no_op_without_a_second_call(
    moto: boto3.Session,
) -> None:
    aws, stub = stubbed(
        moto, PLAIN, "DescribeAutoScalingInstances", "TerminateInstanceInAutoScalingGroup"
    )
    stub.add_response(
        "describe_auto_scaling_instances",
        {"AutoScalingInstances": [{
            "InstanceId": "i-0a1b2c3d4e5f60718", "AutoScalingGroupName": "f1-4xlarge",
            "AvailabilityZone": "us-east-1a", "LifecycleState": "Terminating:Wait",
            "HealthStatus": "HEALTHY", "ProtectedFromScaleIn": False,
        }]},
        {"InstanceIds": ["i-0a1b2c3d4e5f60718"]},
    )
    with stub:
        assert aws.capacity.terminate_instance("i-0a1b2c3d4e5f60718") is False
    stub.assert_no_pending_responses()


# -- throttling and unreachable endpoints ----------------------------------------------


def test_throttling_that_outlasts_retries_becomes_a_transient_aws_throttled_error(
    moto: boto3.Session,
) -> None:
    aws, stub = stubbed(moto, FAST, "DescribeAutoScalingGroups")
    stub.add_client_error("describe_auto_scaling_groups", "Throttling", "Rate exceeded", 400)
    with stub, pytest.raises(AwsThrottledError, match="Rate exceeded") as caught:
        aws.capacity.raise_desired_capacity("f1-4xlarge", 1)
    assert isinstance(caught.value, TransientError)


def test_throttled_call_is_retried_by_the_adaptive_client_then_succeeds(
    moto: boto3.Session,
) -> None:
    # GIVEN AWS answers the first SetDesiredCapacity with a real 400 Throttling response
    make_group(moto, "f1-4xlarge", cluster_tags())
    aws = Aws(moto, FAST)
    client = aws.client("autoscaling")
    attempts: list[int] = []

    def throttle_once(request: Any, **_: Any) -> AWSResponse | None:
        attempts.append(1)
        if len(attempts) > 1:
            return None  # let moto answer
        body = (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            b"<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
        return AWSResponse(request.url, 400, {}, _Raw(body))

    client.meta.events.register("before-send.auto-scaling.SetDesiredCapacity", throttle_once)
    # WHEN desired capacity is raised
    change = aws.capacity.raise_desired_capacity("f1-4xlarge", 1)
    # THEN the client retried by itself and the raise took effect
    assert len(attempts) == 2
    assert change.changed
    assert desired_of(moto, "f1-4xlarge") == 1


class _Raw:
    """The raw body botocore reads from an AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


CLIENT_ERRORS = {
    "throttling code": ("Throttling", 400, AwsThrottledError),
    "too many requests status": ("SomethingNew", 429, AwsThrottledError),
    "resource contention": ("ResourceContention", 500, AwsUnavailableError),
    "internal failure": ("InternalFailure", 500, AwsUnavailableError),
    "access denied": ("AccessDenied", 403, AwsError),
    "validation": ("ValidationError", 400, AwsError),
}


@pytest.mark.parametrize(("code", "status", "error"), CLIENT_ERRORS.values(),
                         ids=CLIENT_ERRORS.keys())
def test_client_errors_are_translated_by_class_so_the_shell_can_decide_retry_or_give_up(
    moto: boto3.Session, code: str, status: int, error: type[Exception]
) -> None:
    aws, stub = stubbed(moto, FAST, "DescribeAutoScalingGroups")
    stub.add_client_error("describe_auto_scaling_groups", code, "boom", status)
    with stub, pytest.raises(error) as caught:
        aws.groups.instances("f1-4xlarge")
    assert type(caught.value) is error
    assert isinstance(caught.value.__cause__, Exception)


def test_an_unreachable_endpoint_becomes_a_transient_aws_unavailable_error() -> None:
    # Nothing listens on a port just freed: the connection is refused at once.
    settings = AwsSettings(region=REGION, endpoint_url=f"http://127.0.0.1:{free_port()}",
                           max_attempts=1, connect_timeout=1, read_timeout=1)
    with pytest.raises(AwsUnavailableError, match="DescribeAutoScalingGroups"):
        Aws(session(), settings).groups.discover_node_groups(CLUSTER)


def test_every_client_has_adaptive_retries_and_connect_and_read_timeouts(
    moto: boto3.Session,
) -> None:
    aws = Aws(moto, AwsSettings(region=REGION, connect_timeout=2, read_timeout=7, max_attempts=3))
    for service in ("autoscaling", "ec2", "ssm", "secretsmanager"):
        config = aws.client(service).meta.config
        assert config.retries == {"mode": "adaptive", "total_max_attempts": 3}
        assert (config.connect_timeout, config.read_timeout) == (2, 7)


# -- lifecycle actions (Stubber: moto lacks them) ----------------------------------------


LIFECYCLE = {"node_group": "f1-4xlarge", "hook": "fpga-burst-launch",
             "instance_id": "i-0a1b2c3d4e5f60718"}
# LIFECYCLE as the adapter sends it to Auto Scaling
HOOK_PARAMS = {"AutoScalingGroupName": "f1-4xlarge", "LifecycleHookName": "fpga-burst-launch",
               "InstanceId": "i-0a1b2c3d4e5f60718"}


def test_complete_lifecycle_action_sends_result_instance_and_token(moto: boto3.Session) -> None:
    aws = Aws(moto, PLAIN)
    with Stubber(aws.client("autoscaling")) as stub:
        stub.add_response("complete_lifecycle_action", {}, {
            **HOOK_PARAMS,
            "LifecycleActionResult": "CONTINUE",
            "LifecycleActionToken": "c613620e-07e2-4ed2-a9e2-ef8258911ade",
        })
        stub.add_response("complete_lifecycle_action", {}, {
            **HOOK_PARAMS,
            "LifecycleActionResult": "ABANDON",
        })
        aws.lifecycle.complete_lifecycle_action(**LIFECYCLE, result=LifecycleResult.CONTINUE,
                                                token="c613620e-07e2-4ed2-a9e2-ef8258911ade")
        aws.lifecycle.complete_lifecycle_action(**LIFECYCLE, result=LifecycleResult.ABANDON)
        stub.assert_no_pending_responses()


def test_record_heartbeat_names_the_instance_and_the_hook(moto: boto3.Session) -> None:
    aws = Aws(moto, PLAIN)
    with Stubber(aws.client("autoscaling")) as stub:
        stub.add_response("record_lifecycle_action_heartbeat", {}, HOOK_PARAMS)
        aws.lifecycle.record_heartbeat(**LIFECYCLE)
        stub.assert_no_pending_responses()


MISSING_ACTIONS = {
    "complete after the action was completed": (
        "complete_lifecycle_action",
        "No active Lifecycle Action found with instance ID i-0a1b2c3d4e5f60718",
    ),
    "complete with an expired token": (
        "complete_lifecycle_action",
        "No active Lifecycle Action found with token c613620e-07e2-4ed2-a9e2-ef8258911ade",
    ),
    "heartbeat after the hook timed out": (
        "record_lifecycle_action_heartbeat",
        "No active Lifecycle Action found with instance ID i-0a1b2c3d4e5f60718",
    ),
}


@pytest.mark.parametrize(("method", "message"), MISSING_ACTIONS.values(),
                         ids=MISSING_ACTIONS.keys())
def test_a_missing_lifecycle_action_is_a_typed_error_the_shell_can_ignore(
    moto: boto3.Session, method: str, message: str
) -> None:
    aws = Aws(moto, PLAIN)
    with Stubber(aws.client("autoscaling")) as stub:
        stub.add_client_error(method, "ValidationError", message, 400)
        with pytest.raises(LifecycleActionNotFoundError, match="No active Lifecycle Action"):
            if method == "complete_lifecycle_action":
                aws.lifecycle.complete_lifecycle_action(
                    **LIFECYCLE, result=LifecycleResult.CONTINUE,
                    token="c613620e-07e2-4ed2-a9e2-ef8258911ade")
            else:
                aws.lifecycle.record_heartbeat(**LIFECYCLE)


def test_other_lifecycle_validation_errors_are_not_mistaken_for_a_missing_action(
    moto: boto3.Session,
) -> None:
    aws = Aws(moto, PLAIN)
    with Stubber(aws.client("autoscaling")) as stub:
        stub.add_client_error("complete_lifecycle_action", "ValidationError",
                              "1 validation error detected: LifecycleActionResult", 400)
        with pytest.raises(AwsError) as caught:
            aws.lifecycle.complete_lifecycle_action(**LIFECYCLE, result=LifecycleResult.CONTINUE)
    assert type(caught.value) is AwsError


# -- SSM join data and the cluster credentials secret ----------------------------------


def join_data(token: str = SECRET_TOKEN) -> JoinData:
    return JoinData(
        endpoint="10.0.0.10:6443",
        token=token,
        ca_cert_hashes=("sha256:" + "ab" * 32,),
        expiration=NOW + timedelta(hours=2),
    )


def test_join_data_is_published_as_a_kms_encrypted_secure_string_and_read_back(
    moto: boto3.Session, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a KMS key and debug logging everywhere
    key_id = moto.client("kms").create_key(Description="fpga-burst join data")["KeyMetadata"][
        "KeyId"
    ]
    aws = Aws(moto, PLAIN)
    caplog.set_level(logging.DEBUG)
    # WHEN join data is published twice and read back
    aws.joins.publish_join_data("/fpga-burst/join", join_data(), kms_key_id=key_id)
    aws.joins.publish_join_data("/fpga-burst/join", join_data(), kms_key_id=key_id)
    back = aws.joins.read_join_data("/fpga-burst/join")
    # THEN it is a SecureString under that key, overwritten in place, equal when decrypted
    parameter = moto.client("ssm").describe_parameters()["Parameters"][0]
    assert (parameter["Type"], parameter["KeyId"], parameter["Version"]) == (
        "SecureString", key_id, 2
    )
    assert back == join_data()
    stored = json.loads(
        moto.client("ssm").get_parameter(Name="/fpga-burst/join", WithDecryption=True)[
            "Parameter"]["Value"]
    )
    assert set(stored) == {"endpoint", "token", "caCertHashes", "expiration"}
    # AND the token appears in no log record, the publication does
    assert "published join data to /fpga-burst/join" in caplog.text
    assert SECRET_TOKEN not in caplog.text
    assert all(SECRET_TOKEN not in str(r.args) for r in caplog.records)


def test_join_data_repr_hides_the_token() -> None:
    assert SECRET_TOKEN not in repr(join_data())


def test_reading_join_data_that_is_absent_gives_none(moto: boto3.Session) -> None:
    assert Aws(moto, PLAIN).joins.read_join_data("/fpga-burst/none") is None


def test_reading_join_data_that_is_not_json_gives_none_and_never_logs_the_value(
    moto: boto3.Session, caplog: pytest.LogCaptureFixture
) -> None:
    moto.client("ssm").put_parameter(Name="/fpga-burst/join", Value="garbage-" + SECRET_TOKEN,
                                     Type="SecureString")
    with caplog.at_level(logging.DEBUG):
        assert Aws(moto, PLAIN).joins.read_join_data("/fpga-burst/join") is None
    assert "does not hold join data" in caplog.text
    assert SECRET_TOKEN not in caplog.text


def test_cluster_credentials_are_read_from_the_secret_json(moto: boto3.Session) -> None:
    secret = {"endpoint": "https://10.0.0.10:6443", "ca": "-----BEGIN CERTIFICATE-----",
              "token": "eyJhbGciOi"}
    moto.client("secretsmanager").create_secret(Name="fpga-burst/cluster",
                                                SecretString=json.dumps(secret))
    creds = Aws(moto, PLAIN).secrets.read_cluster_credentials("fpga-burst/cluster")
    assert creds == ClusterCredentials(**secret)
    assert "eyJhbGciOi" not in repr(creds)


BAD_SECRETS = {
    "not JSON": ("not json", "not JSON"),
    "a JSON list": ("[]", "not a JSON object"),
    "token missing": (json.dumps({"endpoint": "https://x", "ca": "pem"}), "'token'"),
    "endpoint empty": (json.dumps({"endpoint": "", "ca": "pem", "token": "t"}), "'endpoint'"),
}


@pytest.mark.parametrize(("value", "problem"), BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
def test_a_malformed_cluster_secret_raises_cluster_credentials_error_naming_the_problem(
    moto: boto3.Session, value: str, problem: str
) -> None:
    moto.client("secretsmanager").create_secret(Name="fpga-burst/cluster", SecretString=value)
    with pytest.raises(ClusterCredentialsError, match=problem):
        Aws(moto, PLAIN).secrets.read_cluster_credentials("fpga-burst/cluster")


def test_a_missing_cluster_secret_raises_cluster_credentials_error(moto: boto3.Session) -> None:
    with pytest.raises(ClusterCredentialsError, match="not found"):
        Aws(moto, PLAIN).secrets.read_cluster_credentials("fpga-burst/none")


def test_burst_credentials_writes_the_secret_the_functions_then_read_back(
    moto: boto3.Session, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN an existing secret WHEN credentials are written THEN the reader gets them back,
    and the token is in no log line."""
    caplog.set_level(logging.DEBUG)
    moto.client("secretsmanager").create_secret(Name="fpga-burst/cluster", SecretString="{}")
    aws = Aws(moto, PLAIN)
    creds = ClusterCredentials("https://10.8.0.1:6443", "-----BEGIN CERTIFICATE-----", "tok3n")
    aws.secrets.write_cluster_credentials("fpga-burst/cluster", creds)
    assert aws.secrets.read_cluster_credentials("fpga-burst/cluster") == creds
    assert "tok3n" not in caplog.text


def test_writing_credentials_to_a_missing_secret_says_to_create_it(moto: boto3.Session) -> None:
    aws = Aws(moto, PLAIN)
    with pytest.raises(ClusterCredentialsError, match="not found"):
        aws.secrets.write_cluster_credentials(
            "fpga-burst/none", ClusterCredentials("https://x", "c", "t"))


# -- against moto_server, as a Lambda pointed at an endpoint would run -------------------


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    # Its own process: this module's mock_aws() resets the in-process backends.
    with harness_moto.moto_server(own_process=True) as endpoint:
        yield endpoint


def test_the_adapter_works_end_to_end_against_a_moto_server_subprocess(moto_server: str) -> None:
    # GIVEN a moto_server holding a tagged group, a KMS key and the cluster secret
    s = session()
    setup = session()
    for name, tags in (("f1-4xlarge", cluster_tags()), ("foreign", cluster_tags("other"))):
        make_group(setup, name, tags, endpoint=moto_server)
    kms = setup.client("kms", endpoint_url=moto_server)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    setup.client("secretsmanager", endpoint_url=moto_server).create_secret(
        Name="fpga-burst/cluster",
        SecretString=json.dumps({"endpoint": "https://10.0.0.10:6443", "ca": "pem", "token": "t"}),
    )
    aws = Aws(s, AwsSettings(region=REGION, endpoint_url=moto_server))
    # WHEN the controller discovers, raises, terminates and publishes through the endpoint
    (group,) = aws.groups.discover_node_groups(CLUSTER)
    change = aws.capacity.raise_desired_capacity("f1-4xlarge", 2)
    instances = aws.groups.instances("f1-4xlarge")
    terminated = aws.capacity.terminate_instance(instances[0].instance_id)
    aws.joins.publish_join_data("/fpga-burst/join", join_data(), kms_key_id=key_id)
    # THEN each step did what it says
    assert (group.name, group.boards, group.desired) == ("f1-4xlarge", {F1_BOARD: 2}, 0)
    assert (change.from_size, change.to_size) == (0, 2)
    assert len(instances) == 2 and terminated
    assert len(aws.groups.instances("f1-4xlarge")) == 1
    assert aws.joins.read_join_data("/fpga-burst/join") == join_data()
    assert aws.secrets.read_cluster_credentials("fpga-burst/cluster").endpoint == "https://10.0.0.10:6443"
