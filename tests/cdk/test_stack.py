"""What `cdk deploy` creates, checked on the synthesized template of the demo config.

Resources are found by type and properties, never by logical ID.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.names import METRICS_NAMESPACE, SERVICE, Hook, Metric
from burst.core.notices.kinds import NOTICES
from burst.core.policy import SCALER_PERIOD
from burst.tools.deploy.config import (
    LAUNCH_HOOK_TIMEOUT_SECONDS,
    SCALER_MODES,
    TERMINATE_HOOK_TIMEOUT_SECONDS,
    DeployConfig,
)
from stacks.controller.functions import SCALER_TIMEOUTS, specs
from stacks.controller.monitoring import HANDLER_METRICS
from stacks.stack import FpgaBurstStack

CONTEXT = json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"]

HANDLERS = {
    "scaler": "burst.handlers.scaler.handler",
    "lifecycle": "burst.handlers.lifecycle.handler",
    "tokens": "burst.handlers.tokens.handler",
}
JOIN_PARAMETER_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/fpga-burst/inaccel/join"
ENV_NAMES = {
    "FPGA_BURST_CLUSTER_NAME",
    "FPGA_BURST_API_ENDPOINT",
    "FPGA_BURST_CONTROLLER_ENDPOINT",
    "FPGA_BURST_CREDENTIALS_SECRET_ARN",
    "FPGA_BURST_JOIN_PARAMETER",
    "FPGA_BURST_JOIN_KEY_ID",
    "FPGA_BURST_CONFIG",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
}


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return template.find_resources(type_)


def function_by_handler(template: Template, handler: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": handler}})
    assert len(found) == 1, f"one function with handler {handler}"
    return next(iter(found.items()))


def statements(template: Template) -> list[tuple[str, dict[str, Any]]]:
    """Every IAM statement in the template, with the logical ID of its policy."""
    out = []
    for logical_id, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            out.append((logical_id, statement))
    return out


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    return [
        s
        for _, policy in resources(template, "AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(stmts: list[dict[str, Any]]) -> set[str]:
    return {a for s in stmts for a in as_list(s["Action"])}


# --- functions ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_runtime_architecture_layer_and_vpc(
    template: Template, config: DeployConfig, name: str
) -> None:
    _, fn = function_by_handler(template, HANDLERS[name])
    props = fn["Properties"]

    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert len(props["Layers"]) == 1
    assert props["FunctionName"] == f"fpga-burst-{config.cluster_name}-{name}"
    vpc = props["VpcConfig"]
    assert sorted(vpc["SubnetIds"]) == sorted(s.id for s in config.subnets)
    assert vpc["SecurityGroupIds"] == [config.lambda_security_group_id]


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_environment_is_the_documented_set(
    template: Template, config: DeployConfig, name: str
) -> None:
    _, fn = function_by_handler(template, HANDLERS[name])
    env = fn["Properties"]["Environment"]["Variables"]

    assert set(env) == ENV_NAMES
    assert env["FPGA_BURST_CLUSTER_NAME"] == "inaccel"
    assert env["FPGA_BURST_API_ENDPOINT"] == config.api_endpoint
    assert env["FPGA_BURST_CONTROLLER_ENDPOINT"] == config.controller_endpoint
    # each function its own credentials secret (its own Kubernetes identity)
    assert env["FPGA_BURST_CREDENTIALS_SECRET_ARN"] == config.credentials_secret_arns[name]
    assert env["FPGA_BURST_JOIN_PARAMETER"] == "/fpga-burst/inaccel/join"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "fpga-burst"
    runtime = json.loads(env["FPGA_BURST_CONFIG"])
    assert runtime == config.runtime_config()
    assert runtime["lifecycle"] == {
        "launch_timeout_seconds": LAUNCH_HOOK_TIMEOUT_SECONDS,
        "terminate_timeout_seconds": TERMINATE_HOOK_TIMEOUT_SECONDS,
    }
    assert runtime["catalog"]["accelerators"]["com.inaccel.xgboost.exact"] == {
        "xilinx/u250": 4,
        "xilinx/aws-vu47p-f2": 2,
    }


def test_the_scaler_timeout_is_its_modes_and_never_past_the_next_tick(
    template: Template, config: DeployConfig
) -> None:
    _, scaler = function_by_handler(template, HANDLERS["scaler"])
    assert scaler["Properties"]["Timeout"] == SCALER_TIMEOUTS[config.scaler_mode].to_seconds()
    assert set(SCALER_TIMEOUTS) == set(SCALER_MODES)
    period = SCALER_PERIOD.total_seconds()
    for mode in SCALER_MODES:
        (spec,) = [s for s in specs(mode) if s.name == "scaler"]
        assert spec.timeout.to_seconds() <= period, mode
    # poll mode: a single reconcile, so a timeout well inside the minute
    assert SCALER_TIMEOUTS["poll"].to_seconds() < SCALER_TIMEOUTS["watch"].to_seconds()


def test_only_the_scaler_is_limited_to_one_concurrent_run(template: Template) -> None:
    _, scaler = function_by_handler(template, HANDLERS["scaler"])
    assert scaler["Properties"]["ReservedConcurrentExecutions"] == 1
    for name in ("lifecycle", "tokens"):
        _, fn = function_by_handler(template, HANDLERS[name])
        assert "ReservedConcurrentExecutions" not in fn["Properties"]


@pytest.mark.parametrize(
    ("name", "retries", "max_age"),
    [("scaler", 0, 60), ("tokens", 0, 300), ("lifecycle", 2, 600)],
)
def test_async_invocations_drop_stale_events_to_the_failure_queue(
    template: Template, name: str, retries: int, max_age: int
) -> None:
    fn_id, _ = function_by_handler(template, HANDLERS[name])
    queue_id = next(iter(resources(template, "AWS::SQS::Queue")))
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": fn_id},
            "MaximumRetryAttempts": retries,
            "MaximumEventAgeInSeconds": max_age,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )


def test_failure_queue_is_encrypted_and_tls_only(template: Template) -> None:
    template.resource_count_is("AWS::SQS::Queue", 1)
    template.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_log_groups_are_named_after_the_functions_and_expire(template: Template) -> None:
    groups = resources(template, "AWS::Logs::LogGroup")
    assert sorted(g["Properties"]["LogGroupName"] for g in groups.values()) == [
        f"/aws/lambda/fpga-burst-inaccel-{n}" for n in ("lifecycle", "scaler", "tokens")
    ]
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())


def test_layer_is_for_python_312_on_arm64(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Lambda::LayerVersion",
        {"CompatibleRuntimes": ["python3.12"], "CompatibleArchitectures": ["arm64"]},
    )


# --- EventBridge ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rate", "max_age"),
    [("scaler", "rate(1 minute)", 60), ("tokens", "rate(15 minutes)", 450)],
)
def test_schedules_never_retry_a_missed_tick(
    template: Template, name: str, rate: str, max_age: int
) -> None:
    fn_id, _ = function_by_handler(template, HANDLERS[name])
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": rate,
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [fn_id, "Arn"]},
                        "RetryPolicy": {
                            "MaximumRetryAttempts": 0,
                            "MaximumEventAgeInSeconds": max_age,
                        },
                        "DeadLetterConfig": Match.object_like({}),
                    }
                )
            ],
        },
    )


def test_lifecycle_rule_is_filtered_to_the_managed_groups(
    template: Template, config: DeployConfig
) -> None:
    fn_id, _ = function_by_handler(template, HANDLERS["lifecycle"])
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.autoscaling"],
                "detail-type": [
                    "EC2 Instance-launch Lifecycle Action",
                    "EC2 Instance-terminate Lifecycle Action",
                    "EC2 Instance Launch Unsuccessful",
                ],
                "detail": {
                    "AutoScalingGroupName": [f"inaccel-{g.name}" for g in config.node_groups]
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [fn_id, "Arn"]}})],
        },
    )


@pytest.mark.parametrize(
    "pattern",
    [
        # EC2 User Guide: "Spot Instance interruption notices", "EC2 instance rebalance
        # recommendations"; these name only the instance, so no group filter is possible.
        {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning",
                                                "EC2 Instance Rebalance Recommendation"]},
        # AWS Health User Guide: "Monitoring events in AWS Health with Amazon EventBridge".
        {"source": ["aws.health"], "detail-type": ["AWS Health Event"],
         "detail": {"service": ["EC2"], "eventTypeCategory": ["scheduledChange"]}},
    ],
    ids=["spot-and-rebalance", "health-scheduled-change"],
)
def test_instance_notices_go_to_the_lifecycle_function(
    template: Template, pattern: dict[str, Any]
) -> None:
    fn_id, _ = function_by_handler(template, HANDLERS["lifecycle"])
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": pattern,
            "State": "ENABLED",
            "Targets": [Match.object_like({
                "Arn": {"Fn::GetAtt": [fn_id, "Arn"]},
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600},
                "DeadLetterConfig": Match.object_like({}),
            })],
        },
    )


def test_each_rule_may_invoke_only_its_function(template: Template) -> None:
    permissions = resources(template, "AWS::Lambda::Permission")
    # two schedules, the lifecycle actions, and each rule of the notice table (the EC2
    # notices, the Health scheduled changes)
    assert len(permissions) == 3 + len({t.rule for t in NOTICES.values()})
    for permission in permissions.values():
        props = permission["Properties"]
        assert props["Principal"] == "events.amazonaws.com"
        assert "SourceArn" in props


# --- KMS, alarms, dashboard ---------------------------------------------------------------


def test_keys_rotate(template: Template) -> None:
    keys = resources(template, "AWS::KMS::Key")
    assert len(keys) == 1  # the join parameter's (the alarm topic holds no secret)
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys.values())


@pytest.mark.parametrize(
    ("metric", "periods"),
    [(Metric.CLUSTER_UNREACHABLE, 3), (Metric.SCALE_UP_FAILURES, 1),
     (Metric.DRAINS_OVER_DEADLINE, 1)],
    ids=str,
)
def test_handler_metric_alarms(template: Template, metric: str, periods: int) -> None:
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": METRICS_NAMESPACE,
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": SERVICE}],
            "Statistic": "Sum",
            "Threshold": 1,
            "EvaluationPeriods": periods,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_function_error_alarms(template: Template, name: str) -> None:
    fn_id, _ = function_by_handler(template, HANDLERS[name])
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/Lambda",
            "MetricName": "Errors",
            "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": fn_id}}],
            # transient failures are raised to Lambda and retried: not one error pages
            "EvaluationPeriods": 3,
        },
    )


def test_every_alarm_notifies_the_topic(template: Template) -> None:
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    # each function's errors, each watched handler metric, the failure queue
    assert len(alarms) == 3 + len(HANDLER_METRICS) + 1
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    # alarm notices only, over TLS: no customer key ($1 a month and more) for them
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.absent()})


def test_no_dashboard_unless_asked(template: Template, dashboard_template: Template) -> None:
    template.resource_count_is("AWS::CloudWatch::Dashboard", 0)
    dashboard_template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "fpga-burst-inaccel"}
    )


# --- node groups ---------------------------------------------------------------------------


def asg(template: Template, name: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(
        "AWS::AutoScaling::AutoScalingGroup", {"Properties": {"AutoScalingGroupName": name}}
    )
    assert len(found) == 1, name
    return next(iter(found.items()))


def launch_template_of(template: Template, group: dict[str, Any]) -> dict[str, Any]:
    lt_id = group["Properties"]["LaunchTemplate"]["LaunchTemplateId"]["Ref"]
    return resources(template, "AWS::EC2::LaunchTemplate")[lt_id]["Properties"]


def user_data_text(launch_template: dict[str, Any]) -> str:
    encoded = launch_template["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    assert isinstance(encoded, str), "user data holds no CloudFormation tokens"
    return encoded


def test_one_group_per_config_entry(template: Template, config: DeployConfig) -> None:
    template.resource_count_is("AWS::AutoScaling::AutoScalingGroup", len(config.node_groups))
    template.resource_count_is("AWS::EC2::LaunchTemplate", len(config.node_groups))
    template.resource_count_is("AWS::AutoScaling::LaunchConfiguration", 0)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_group_size_subnets_and_no_desired_capacity(
    template: Template, config: DeployConfig, index: int
) -> None:
    group_config = config.node_groups[index]
    _, group = asg(template, f"inaccel-{group_config.name}")
    props = group["Properties"]

    assert props["MinSize"] == "0"
    assert props["MaxSize"] == str(group_config.max_size)
    assert sorted(props["VPCZoneIdentifier"]) == sorted(s.id for s in group_config.subnets)
    # The controller owns the desired capacity; a redeploy must not reset it.
    assert "DesiredCapacity" not in props


def test_every_group_protects_its_instances_from_its_own_scale_in(template: Template) -> None:
    """
    GIVEN node groups spanning several subnets (zones)
    WHEN  the group would rebalance its zones or scale in by itself
    THEN  it may pick no instance: each launches protected from scale in, and only
          fpga-burst's TerminateInstanceInAutoScalingGroup (not stopped by protection)
          removes one
    """
    groups = template.find_resources("AWS::AutoScaling::AutoScalingGroup")
    assert groups
    unprotected = [name for name, group in groups.items()
                   if group["Properties"].get("NewInstancesProtectedFromScaleIn") is not True]
    assert unprotected == []


@pytest.mark.parametrize(
    ("name", "board", "boards"),
    [
        ("f2-6xlarge", "xilinx/aws-vu47p-f2", "1"),
        ("f2-12xlarge", "xilinx/aws-vu47p-f2", "2"),
        ("f2-48xlarge", "xilinx/aws-vu47p-f2", "8"),
    ],
)
def test_cluster_autoscaler_tags(template: Template, name: str, board: str, boards: str) -> None:
    _, group = asg(template, f"inaccel-{name}")
    tags = {t["Key"]: (t["Value"], t["PropagateAtLaunch"]) for t in group["Properties"]["Tags"]}
    prefix = "k8s.io/cluster-autoscaler/"

    assert tags[f"{prefix}enabled"] == ("true", False)
    assert tags[f"{prefix}inaccel"] == ("owned", False)
    assert tags[f"{prefix}node-template/resources/{board}"] == (boards, False)
    assert tags[f"{prefix}node-template/label/inaccel/fpga"] == ("enabled", False)
    instance_type = name.replace("-", ".")
    assert tags[f"{prefix}node-template/label/node.kubernetes.io/instance-type"] == (
        instance_type,
        False,
    )
    assert "fpga-burst.io/priority" in tags
    assert tags["Name"] == (f"inaccel-{name}", True)


def test_taint_tags_use_the_value_colon_effect_form(template: Template) -> None:
    _, group = asg(template, "inaccel-f2-48xlarge")
    tags = {t["Key"]: t["Value"] for t in group["Properties"]["Tags"]}

    assert tags["k8s.io/cluster-autoscaler/node-template/taint/fpga-burst/large"] == (
        "true:NoSchedule"
    )
    assert tags["fpga-burst.io/priority"] == "5"


@pytest.mark.parametrize("name", ["f2-6xlarge", "f2-12xlarge", "f2-48xlarge"])
def test_lifecycle_hooks_match_the_handlers(template: Template, name: str) -> None:
    asg_id, _ = asg(template, f"inaccel-{name}")
    template.has_resource_properties(
        "AWS::AutoScaling::LifecycleHook",
        {
            "AutoScalingGroupName": {"Ref": asg_id},
            "LifecycleHookName": Hook.LAUNCH,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "DefaultResult": "ABANDON",
            "HeartbeatTimeout": LAUNCH_HOOK_TIMEOUT_SECONDS,
        },
    )
    template.has_resource_properties(
        "AWS::AutoScaling::LifecycleHook",
        {
            "AutoScalingGroupName": {"Ref": asg_id},
            "LifecycleHookName": Hook.TERMINATE,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
            "DefaultResult": "CONTINUE",
            "HeartbeatTimeout": TERMINATE_HOOK_TIMEOUT_SECONDS,
        },
    )


@pytest.mark.parametrize("name", ["f2-6xlarge", "f2-12xlarge", "f2-48xlarge"])
def test_launch_template_imdsv2_encrypted_gp3_root_and_profile(
    template: Template, config: DeployConfig, name: str
) -> None:
    group_config = next(g for g in config.node_groups if g.name == name)
    _, group = asg(template, f"inaccel-{name}")
    data = launch_template_of(template, group)["LaunchTemplateData"]

    assert data["InstanceType"] == group_config.instance_type
    # Its own AMI, or the node image the stack builds (test_node_image.py)
    assert data["ImageId"] == group_config.ami_id if group_config.ami_id else (
        "Fn::GetAtt" in data["ImageId"])
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert data["BlockDeviceMappings"] == [
        {
            "DeviceName": group_config.root_device_name,
            "Ebs": {
                "DeleteOnTermination": True,
                "Encrypted": True,
                "VolumeSize": 100,
                "VolumeType": "gp3",
            },
        }
    ]
    assert "IamInstanceProfile" in data
    assert "KeyName" not in data


def test_user_data_carries_only_names(template: Template, config: DeployConfig) -> None:
    _, group = asg(template, "inaccel-f2-48xlarge")
    text = user_data_text(launch_template_of(template, group))

    assert text.startswith("#!/usr/bin/env bash\n")
    assert "export FPGA_BURST_JOIN_PARAMETER=/fpga-burst/inaccel/join\n" in text
    assert f"export FPGA_BURST_VPN_SECRET={config.vpn_secret_arn}\n" in text
    assert "export FPGA_BURST_NODE_TAINTS=fpga-burst/large=true:NoSchedule\n" in text
    assert "kubeadm join --config" in text
    assert "unsafeSkipCAVerification" not in text
    # "User data is limited to 16 KB, in raw form, before it is base64-encoded" (Amazon EC2
    # user guide, "Work with instance user data").
    assert len(text.encode()) <= 16 * 1024


def test_node_security_group_allows_kubelet_only_from_onprem(
    template: Template, config: DeployConfig
) -> None:
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "VpcId": config.vpc_id,
            "SecurityGroupIngress": [
                Match.object_like(
                    {"CidrIp": config.onprem_cidr, "FromPort": 10250, "ToPort": 10250}
                )
            ],
        },
    )


# --- IAM ----------------------------------------------------------------------------------


def instance_role_id(template: Template, joined: bool = False) -> str:
    """The nodes' boot role, or with `joined` the role a joined node swaps to."""
    roles = template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [
                        Match.object_like({"Principal": {"Service": "ec2.amazonaws.com"}})
                    ]
                }
            }
        },
    )
    # The node roles (boot and joined); the node image's build role is also assumed by EC2
    # (test_node_image.py)
    nodes = [r for r in roles if r.startswith("NodeAccess")]
    assert len(nodes) == 2
    (found,) = [r for r in nodes if ("JoinedRole" in r) is joined]
    return found


def test_node_role_reads_only_the_join_parameter_and_vpn_secret_and_tags_a_failed_join(
    template: Template, config: DeployConfig
) -> None:
    role_id = instance_role_id(template)
    stmts = role_statements(template, role_id)

    assert actions_of(stmts) == {
        "ssm:GetParameter", "kms:Decrypt", "secretsmanager:GetSecretValue", "ec2:CreateTags",
        "ec2:DescribeIamInstanceProfileAssociations",
        "ec2:ReplaceIamInstanceProfileAssociation", "iam:PassRole",
    }
    by_action = {s["Action"]: s for s in stmts}
    assert by_action["ssm:GetParameter"]["Resource"] == JOIN_PARAMETER_ARN
    # The configured ARN, full or partial: the same two forms the controller is granted
    assert by_action["secretsmanager:GetSecretValue"]["Resource"] == [
        config.vpn_secret_arn, f"{config.vpn_secret_arn}-??????"]
    decrypt = by_action["kms:Decrypt"]
    assert decrypt["Condition"]["StringEquals"]["kms:ViaService"] == "ssm.us-east-1.amazonaws.com"
    assert decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"] == (
        JOIN_PARAMETER_ARN
    )
    # Only the join-error tag, only on its own instance (decisions: test_node_iam.py).
    tag = by_action["ec2:CreateTags"]["Condition"]
    assert tag["ForAllValues:StringEquals"] == {"aws:TagKeys": [JOIN_ERROR_TAG]}
    assert "${ec2:InstanceID}" in json.dumps(tag["StringEquals"]["ec2:SourceInstanceARN"])
    swap = by_action["ec2:ReplaceIamInstanceProfileAssociation"]["Condition"]
    assert swap["StringEquals"] == tag["StringEquals"]
    # Session Manager is off unless the config turns it on.
    assert "ManagedPolicyArns" not in resources(template, "AWS::IAM::Role")[role_id]["Properties"]


def test_a_joined_node_holds_nothing_of_the_join(template: Template) -> None:
    assert role_statements(template, instance_role_id(template, joined=True)) == []


def test_the_joined_profile_is_named_in_the_user_data(
    template: Template, config: DeployConfig
) -> None:
    (profile,) = [p for p in resources(template, "AWS::IAM::InstanceProfile").values()
                  if "InstanceProfileName" in p["Properties"]]
    name = profile["Properties"]["InstanceProfileName"]
    assert name == f"fpga-burst-{config.cluster_name}-joined-{config.region}"
    _, group = asg(template, "inaccel-f2-48xlarge")
    assert f"export FPGA_BURST_JOINED_PROFILE={name}\n" in user_data_text(
        launch_template_of(template, group))


def test_session_manager_on_the_nodes_is_a_config_choice(config: DeployConfig) -> None:
    on = replace(config, ssm_session_manager=True)
    template = Template.from_stack(FpgaBurstStack(App(context=CONTEXT), config=on))
    for joined in (False, True):
        role_id = instance_role_id(template, joined)
        (policy,) = resources(template, "AWS::IAM::Role")[role_id]["Properties"][
            "ManagedPolicyArns"]
        assert "AmazonSSMManagedInstanceCore" in json.dumps(policy)
        # its parameter reads are taken back (what remains: test_node_iam.py)
        denied = [s for s in role_statements(template, role_id) if s["Effect"] == "Deny"]
        assert len(denied) == 1 and "ssm:GetParameter" in denied[0]["Action"]


def test_no_write_action_on_a_wildcard_resource(template: Template) -> None:
    """Only actions without resource-level permissions may name "*" (listed in docs/security.md)."""
    allowed = {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeLaunchConfigurations",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSpotPriceHistory",
        "ec2:DescribeInstances",
        "ec2:DescribeTags",
        "ec2:DescribeIamInstanceProfileAssociations",
        "servicequotas:GetServiceQuota",
        "servicequotas:GetAWSDefaultServiceQuota",
    }
    for logical_id, statement in statements(template):
        if statement["Effect"] == "Allow" and "*" in as_list(statement.get("Resource")):
            assert set(as_list(statement["Action"])) <= allowed, logical_id


def test_asg_writes_are_conditioned_on_the_cluster_tag(template: Template) -> None:
    writes = {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:CompleteLifecycleAction",
        "autoscaling:RecordLifecycleActionHeartbeat",
    }
    found = 0
    for _, statement in statements(template):
        if set(as_list(statement["Action"])) & writes:
            found += 1
            assert statement["Condition"] == {
                "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/inaccel": "owned"}
            }
            resources_json = json.dumps(statement["Resource"])
            assert "autoScalingGroupName/inaccel-f2-6xlarge" in resources_json
            assert ":autoScalingGroup:*:autoScalingGroupName/" in resources_json
    assert found >= 2


def test_only_the_tokens_function_writes_the_join_parameter(template: Template) -> None:
    writers = [
        (logical_id, s)
        for logical_id, s in statements(template)
        if "ssm:PutParameter" in as_list(s["Action"])
    ]
    assert len(writers) == 1
    logical_id, statement = writers[0]
    assert "Tokens" in logical_id
    assert statement["Resource"] == JOIN_PARAMETER_ARN
    key_users = [
        (logical_id, s)
        for logical_id, s in statements(template)
        if "kms:Encrypt" in as_list(s["Action"])
    ]
    assert len(key_users) == 1 and "Tokens" in key_users[0][0]
    assert key_users[0][1]["Condition"] == {
        "StringEquals": {
            "kms:ViaService": "ssm.us-east-1.amazonaws.com",
            "kms:EncryptionContext:PARAMETER_ARN": JOIN_PARAMETER_ARN,
        }
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "scaler",
            {
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:RecordLifecycleActionHeartbeat",
                "secretsmanager:GetSecretValue",
                # live Spot prices, F instances outside the groups, the F vCPU quotas
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeInstances",
                "servicequotas:GetServiceQuota",
                "servicequotas:GetAWSDefaultServiceQuota",
            },
        ),
        (
            "lifecycle",
            {
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:RecordLifecycleActionHeartbeat",
                "secretsmanager:GetSecretValue",
                # a waiting launch's join-error tag
                "ec2:DescribeTags",
            },
        ),
        (
            "tokens",
            {
                "ssm:GetParameter",
                "ssm:PutParameter",
                "kms:Encrypt",
                "kms:Decrypt",
                "secretsmanager:GetSecretValue",
            },
        ),
    ],
)
def test_function_roles_hold_only_what_their_handler_calls(
    template: Template, name: str, expected: set[str]
) -> None:
    _, fn = function_by_handler(template, HANDLERS[name])
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    common = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
        "ec2:DescribeNetworkInterfaces",
        # the failure destination, granted by CDK
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
    reads = {
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeLaunchConfigurations",
        "ec2:DescribeLaunchTemplateVersions",
    }
    actions = actions_of(role_statements(template, role_id))
    assert actions - common - reads == expected
    assert "ManagedPolicyArns" not in resources(template, "AWS::IAM::Role")[role_id]["Properties"]


def test_only_the_scaler_reads_spot_prices_and_the_f_quotas(template: Template) -> None:
    readers = [logical_id for logical_id, statement in statements(template)
               if "servicequotas:GetServiceQuota" in as_list(statement["Action"])]
    assert len(readers) == 1 and "Scaler" in readers[0]
