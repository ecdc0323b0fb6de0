"""The IAM enforcement of the end-to-end suites bites: the scaler's adapter against moto_server
with the scaler's key, under its synthesized policy (iamenforce), and the evaluator's rules.

If these pass, a function call the policy does not allow fails the suites with AccessDenied;
if enforcement were off, the denials below would not happen.
"""

from __future__ import annotations

import boto3
import pytest
import requests
from awsfakes import LIFECYCLE_CALLS, OperationStubber
from iamenforce import Enforcer, session_keys
from iampolicy import evaluate

from burst.adapters.aws.adapter import Aws, AwsSettings
from burst.core.asgtags import cluster_tag
from burst.core.errors import AwsError
from burst.ports.aws import LifecycleResult
from burst.tools.harness.moto import CLUSTER, REGION, MotoView

OWN = "onprem-f1-4xlarge"  # a group of the synthesized deployment (iam-deploy.yaml)


@pytest.fixture
def view(moto_endpoint: str, iam_policies: object) -> MotoView:
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    return MotoView(moto_endpoint)


def as_scaler(moto_endpoint: str) -> Aws:
    session = boto3.Session(**session_keys("scaler"), region_name=REGION)
    return Aws(session, AwsSettings(region=REGION, endpoint_url=moto_endpoint))


def test_the_scaler_raises_its_own_group_and_is_denied_once_the_action_is_taken_away(
    view: MotoView, moto_endpoint: str, iam_enforced: Enforcer,
) -> None:
    view.group(OWN, "f1.4xlarge", {})
    scaler = as_scaler(moto_endpoint)
    # WHEN the policy is as synthesized: allowed, and moto did it
    scaler.capacity.raise_desired_capacity(OWN, 1)
    assert view.desired(OWN) == 1
    # WHEN autoscaling:SetDesiredCapacity is removed from the scaler's policy
    with iam_enforced.without("scaler", "autoscaling:SetDesiredCapacity"), \
            pytest.raises(AwsError) as denied:
        scaler.capacity.raise_desired_capacity(OWN, 2)
    # THEN the call is refused as AWS refuses it, moto is untouched, and it is on record
    assert denied.value.code == "AccessDenied"
    assert "autoscaling:SetDesiredCapacity" in str(denied.value)
    assert view.desired(OWN) == 1
    assert [c.request.action for c in iam_enforced.denied] == ["autoscaling:SetDesiredCapacity"]
    iam_enforced.denied.clear()  # the denial was the point here


def test_the_cluster_tag_condition_and_the_group_name_are_enforced(
    view: MotoView, moto_endpoint: str, iam_enforced: Enforcer,
) -> None:
    # A group of the deployment whose cluster tag says another cluster owns it...
    view.group(OWN, "f1.4xlarge", {})
    view.asg.delete_tags(Tags=[{"ResourceId": OWN, "ResourceType": "auto-scaling-group",
                                "Key": cluster_tag(CLUSTER)}])
    # ... and a group tagged for this cluster but not in the deployment
    view.group("onprem-stranger", "f1.4xlarge", {})
    scaler = as_scaler(moto_endpoint)
    for group in (OWN, "onprem-stranger"):
        with pytest.raises(AwsError) as denied:
            scaler.capacity.raise_desired_capacity(group, 1)
        assert denied.value.code == "AccessDenied"
        assert view.desired(group) == 0
    assert len(iam_enforced.denied) == 2
    iam_enforced.denied.clear()


def test_calls_a_stubber_answers_are_checked_too(
    view: MotoView, moto_endpoint: str, iam_enforced: Enforcer,
) -> None:
    # moto lacks CompleteLifecycleAction: the suites stub it, and it must not escape the check
    view.group("onprem-stranger", "f1.4xlarge", {})
    session = boto3.Session(**session_keys("lifecycle"), region_name=REGION)
    lifecycle = Aws(session, AwsSettings(region=REGION, endpoint_url=moto_endpoint))
    with OperationStubber(lifecycle.client("autoscaling"), *LIFECYCLE_CALLS) as stub:
        stub.add_response("complete_lifecycle_action", {})
        with pytest.raises(AwsError) as denied:
            lifecycle.lifecycle.complete_lifecycle_action(
                "onprem-stranger", "hook", "i-0123", LifecycleResult.CONTINUE)
    assert denied.value.code == "AccessDenied"
    assert [c.request.action for c in iam_enforced.denied] == [
        "autoscaling:CompleteLifecycleAction"]
    iam_enforced.denied.clear()


def test_describe_calls_need_no_resource_and_other_keys_are_not_checked(
    view: MotoView, moto_endpoint: str, iam_enforced: Enforcer,
) -> None:
    view.group(OWN, "f1.4xlarge", {})
    groups = as_scaler(moto_endpoint).groups.discover_node_groups(CLUSTER)
    assert [g.name for g in groups] == [OWN]
    assert {c.request.action for c in iam_enforced.calls if c.function == "scaler"} >= {
        "autoscaling:DescribeAutoScalingGroups"}
    # The test's own view (key "testing") may do what it likes: no function holds that key.
    view.asg.set_desired_capacity(AutoScalingGroupName=OWN, DesiredCapacity=1)
    assert not iam_enforced.denied


# --- the evaluator's rules, on statements of the shape the stack writes --------------------

TAGGED = {"Sid": "Scale", "Effect": "Allow", "Action": ["autoscaling:SetDesiredCapacity"],
          "Resource": ["arn:aws:autoscaling:us-east-1:1:autoScalingGroup:*:"
                       "autoScalingGroupName/onprem-a"],
          "Condition": {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem":
                                         "owned"}}}
GROUP_ARN = "arn:aws:autoscaling:us-east-1:1:autoScalingGroup:uuid:autoScalingGroupName/onprem-a"


@pytest.mark.parametrize(("action", "resource", "context", "allowed"), [
    ("autoscaling:SetDesiredCapacity", GROUP_ARN,
     {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem": "owned"}, True),
    ("AutoScaling:setdesiredcapacity", GROUP_ARN,  # actions match without case
     {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem": "owned"}, True),
    ("autoscaling:SetDesiredCapacity", GROUP_ARN,
     {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem": "shared"}, False),
    ("autoscaling:SetDesiredCapacity", GROUP_ARN, {}, False),  # no tag: the condition fails
    ("autoscaling:SetDesiredCapacity", GROUP_ARN + "b",
     {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem": "owned"}, False),
    ("autoscaling:TerminateInstanceInAutoScalingGroup", GROUP_ARN,
     {"aws:ResourceTag/k8s.io/cluster-autoscaler/onprem": "owned"}, False),
])
def test_action_resource_and_condition_must_all_match(
    action: str, resource: str, context: dict[str, str], allowed: bool,
) -> None:
    assert evaluate([TAGGED], action, resource, context).allowed is allowed


def test_an_explicit_deny_wins_and_question_marks_match_one_character() -> None:
    secret = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
              "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:fpga-burst/c-??????"}
    arn = "arn:aws:secretsmanager:us-east-1:1:secret:fpga-burst/c-AbCdEf"
    assert evaluate([secret], "secretsmanager:GetSecretValue", arn, {}).allowed
    assert not evaluate([secret], "secretsmanager:GetSecretValue", arn + "g", {}).allowed
    deny = {"Effect": "Deny", "NotAction": "ssm:*", "Resource": "*"}
    assert not evaluate([secret, deny], "secretsmanager:GetSecretValue", arn, {}).allowed
