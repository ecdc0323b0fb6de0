"""The controller: three functions, what wakes them, and exactly what they may touch.

scaler (1-minute schedule), lifecycle (ASG lifecycle-action events of the managed groups)
and tokens (15-minute schedule) share one code asset (`lambdas/`), one dependency layer and
one environment, built in `environment()`: the only place the functions' settings are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import ArnFormat, CfnResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.core.asgtags import cluster_tag
from burst.core.policy import TOKEN_PERIOD
from stacks.config import DeployConfig
from stacks.controller.layer import dependency_layer
from stacks.nag import acknowledge

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# The functions' code asset: the package without burst/tools (the `burst` command, the demo,
# the simulator), so editing a tool neither grows nor redeploys the functions.
ASSET_EXCLUDE = (
    "*.egg-info", "**/__pycache__", "**/*.pyc", "**/.*", "burst/tools", "burst/tools/**",
)
SERVICE = "fpga-burst"
METRICS_NAMESPACE = "fpga-burst"


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    timeout: Duration
    description: str
    # Lambda's own async queue: how often to retry a failed event and how long an event may
    # wait (e.g. while throttled) before it is dropped to the failure queue.
    retry_attempts: int
    max_event_age: Duration
    reserved_concurrency: int | None = None


FUNCTIONS = (
    FunctionSpec(
        "scaler",
        "burst.handlers.scaler.handler",
        # Over the 1-minute period, so watch mode leaves no gap: the next tick finds the one
        # slot busy, is throttled, and Lambda's async queue hands it over the moment this
        # invocation ends (throttles are retried within max_event_age, whatever
        # retry_attempts says). Watch stops `watch.margin` before this deadline.
        Duration.seconds(70),
        "fpga-burst: scale FPGA node groups up for pending pods, remove unneeded nodes",
        # A tick that cannot run now is worthless a minute later: the next one reconciles.
        retry_attempts=0,
        max_event_age=Duration.seconds(60),
        # One decision at a time: two scalers could both ask for the same capacity.
        reserved_concurrency=1,
    ),
    FunctionSpec(
        "lifecycle",
        "burst.handlers.lifecycle.handler",
        Duration.minutes(5),
        "fpga-burst: complete ASG launch/terminate lifecycle actions (join check, drain)",
        # Retrying is safe (level-triggered) and worth it within the hooks' timeouts.
        retry_attempts=2,
        max_event_age=Duration.minutes(10),
    ),
    FunctionSpec(
        "tokens",
        "burst.handlers.tokens.handler",
        Duration.seconds(60),
        "fpga-burst: rotate the kubeadm bootstrap token and publish the join data",
        retry_attempts=0,
        max_event_age=Duration.minutes(5),
    ),
)
SCHEDULES = {
    "scaler": Duration.minutes(1),
    "tokens": Duration.seconds(TOKEN_PERIOD.total_seconds()),
}
LIFECYCLE_EVENTS = (
    "EC2 Instance-launch Lifecycle Action",
    "EC2 Instance-terminate Lifecycle Action",
    "EC2 Instance Launch Unsuccessful",
)


def environment(config: DeployConfig, *, join_key_arn: str) -> dict[str, str]:
    """Every setting the functions receive. Handlers read these names and nothing else."""
    return {
        "FPGA_BURST_CLUSTER_NAME": config.cluster_name,
        "FPGA_BURST_API_ENDPOINT": config.api_endpoint,
        "FPGA_BURST_CREDENTIALS_SECRET_ARN": config.credentials_secret_arn,
        "FPGA_BURST_JOIN_PARAMETER": config.join_parameter_name,
        "FPGA_BURST_JOIN_KEY_ID": join_key_arn,
        "FPGA_BURST_CONFIG": config.runtime_json(),
        "POWERTOOLS_SERVICE_NAME": SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


class Controller(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: DeployConfig,
        vpc: ec2.IVpc,
        lambda_subnets: Sequence[ec2.ISubnet],
        asg_names: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.join_key = kms.Key(
            self,
            "JoinKey",
            description=f"fpga-burst {config.cluster_name}: the join-data SecureString parameter",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # CloudFormation cannot create SecureString parameters; the tokens function creates
        # and overwrites it (PutParameter Type=SecureString, KeyId=this key).
        self.join_parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=config.join_parameter_name[1:]
        )
        self.failures = sqs.Queue(
            self,
            "Failures",
            # Events that EventBridge could not deliver or a function gave up on; kept for
            # reading, never replayed automatically (the next tick reconciles anyway).
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.failures,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the rules and the functions' "
            "failure destination; cdk-nag only recognises DLQs of other queues.",
        )
        self.layer = dependency_layer(self, "Dependencies")
        code = lambda_.Code.from_asset(str(LAMBDAS), exclude=list(ASSET_EXCLUDE))
        env = environment(config, join_key_arn=self.join_key.key_arn)
        security_group = ec2.SecurityGroup.from_security_group_id(
            self, "LambdaSecurityGroup", config.lambda_security_group_id, mutable=False
        )
        subnets = ec2.SubnetSelection(subnets=list(lambda_subnets))
        self.functions: dict[str, lambda_.Function] = {}
        for spec in FUNCTIONS:
            self.functions[spec.name] = self._function(
                spec, config, code, env, vpc, subnets, security_group
            )
        self._grant(config, asg_names, subnets, security_group)
        self._schedules()
        self._lifecycle_rule(asg_names)

    def _function(
        self,
        spec: FunctionSpec,
        config: DeployConfig,
        code: lambda_.Code,
        env: dict[str, str],
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
    ) -> lambda_.Function:
        name = f"fpga-burst-{config.cluster_name}-{spec.name}"
        title = spec.name.capitalize()
        log_group = logs.LogGroup(
            self,
            f"{title}Logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # One role per function, so each holds only what its handler calls.
        role = iam.Role(
            self,
            f"{title}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"fpga-burst {spec.name} function",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        function = lambda_.Function(
            self,
            title,
            function_name=name,
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            layers=[self.layer],
            # The Kubernetes client and Powertools import faster with more CPU.
            memory_size=512,
            timeout=spec.timeout,
            environment=env,
            role=role,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            reserved_concurrent_executions=spec.reserved_concurrency,
            retry_attempts=spec.retry_attempts,
            max_event_age=spec.max_event_age,
            on_failure=destinations.SqsDestination(self.failures),
            tracing=lambda_.Tracing.DISABLED,
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "Python 3.12 is the runtime the dependency layer is built and tested for "
            "(stacks/controller/layer.py PYTHON_VERSION); move both together.",
        )
        return function

    def _grant(
        self,
        config: DeployConfig,
        asg_names: Sequence[str],
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
    ) -> None:
        stack = Stack.of(self)
        asg_arns = [
            stack.format_arn(
                service="autoscaling",
                resource="autoScalingGroup",
                resource_name=f"*:autoScalingGroupName/{name}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name in asg_names
        ]
        # Only groups that carry this cluster's tag, even if a name were reused.
        owned = {"StringEquals": {f"aws:ResourceTag/{cluster_tag(config.cluster_name)}": "owned"}}
        describe = iam.PolicyStatement(
            sid="DescribeGroups",
            actions=[
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeAutoScalingInstances",
                "autoscaling:DescribeScalingActivities",
                "autoscaling:DescribeLaunchConfigurations",
                "ec2:DescribeLaunchTemplateVersions",
            ],
            resources=["*"],  # these Describe actions have no resource-level permissions
        )
        lifecycle = iam.PolicyStatement(
            sid="CompleteLifecycleActions",
            actions=[
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:RecordLifecycleActionHeartbeat",
            ],
            resources=asg_arns,
            conditions=owned,
        )
        scale = iam.PolicyStatement(
            sid="ScaleOwnedGroups",
            actions=[
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
            ],
            resources=asg_arns,
            conditions=owned,
        )
        read_credentials = iam.PolicyStatement(
            sid="ReadClusterCredentials",
            actions=["secretsmanager:GetSecretValue"],
            resources=_secret_arns(config.credentials_secret_arn),
        )
        read_join = iam.PolicyStatement(
            sid="ReadJoinParameter",
            actions=["ssm:GetParameter"],
            resources=[self.join_parameter_arn],
        )
        write_join = iam.PolicyStatement(
            sid="WriteJoinParameter",
            actions=["ssm:PutParameter"],
            resources=[self.join_parameter_arn],
        )
        use_key = iam.PolicyStatement(
            sid="EncryptJoinParameter",
            actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
            resources=[self.join_key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"ssm.{stack.region}.amazonaws.com",
                    "kms:EncryptionContext:PARAMETER_ARN": self.join_parameter_arn,
                }
            },
        )
        grants = {
            "scaler": [describe, lifecycle, scale, read_credentials],
            "lifecycle": [describe, lifecycle, read_credentials],
            "tokens": [read_credentials, read_join, write_join, use_key],
        }
        for name, statements in grants.items():
            role = self.functions[name].role
            assert role is not None
            for statement in [*statements, *_vpc_access(stack, subnets, security_group)]:
                role.add_to_principal_policy(statement)
            policy = role.node.find_child("DefaultPolicy").node.default_child
            function = self.functions[name].node.default_child
            assert isinstance(policy, CfnResource) and isinstance(function, CfnResource)
            # The policy must exist first (Lambda checks the ENI permissions on create); the
            # role already is a dependency through Fn::GetAtt, and cfn-lint (W3005) says so.
            function.add_override("DependsOn", [stack.get_logical_id(policy)])
            if name != "tokens":
                for arn in asg_arns:
                    acknowledge(
                        role,
                        f"AwsSolutions-IAM5[Resource::{_nag_arn(stack, arn)}]",
                        "An ASG ARN holds a random UUID unknown before creation; the name and "
                        "the cluster-tag condition pin the group.",
                    )
            acknowledge(
                role,
                "AwsSolutions-IAM5[Resource::*]",
                "Describe* (autoscaling, ec2:DescribeLaunchTemplateVersions, "
                "ec2:DescribeNetworkInterfaces) have no resource-level permissions.",
            )
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::{_nag_arn(stack, _interfaces_arn(stack))}]",
                "Lambda creates the VPC network interfaces; their IDs are not known in advance.",
            )

    def _schedules(self) -> None:
        for name, every in SCHEDULES.items():
            events.Rule(
                self,
                f"{name.capitalize()}Schedule",
                description=f"fpga-burst: run the {name} function every {every.to_human_string()}",
                schedule=events.Schedule.rate(every),
                targets=[
                    targets.LambdaFunction(
                        self.functions[name],
                        # A missed tick is dropped, not queued: the next one reconciles.
                        retry_attempts=0,
                        max_event_age=Duration.seconds(max(60, every.to_seconds() // 2)),
                        dead_letter_queue=self.failures,
                    )
                ],
            )

    def _lifecycle_rule(self, asg_names: Sequence[str]) -> None:
        events.Rule(
            self,
            "LifecycleActions",
            description="fpga-burst: lifecycle actions and failed launches of the FPGA groups",
            event_pattern=events.EventPattern(
                source=["aws.autoscaling"],
                detail_type=list(LIFECYCLE_EVENTS),
                detail={"AutoScalingGroupName": list(asg_names)},
            ),
            targets=[
                targets.LambdaFunction(
                    self.functions["lifecycle"],
                    retry_attempts=2,
                    max_event_age=Duration.minutes(10),
                    dead_letter_queue=self.failures,
                )
            ],
        )


def _vpc_access(
    stack: Stack, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup
) -> list[iam.PolicyStatement]:
    """What Lambda needs to attach a function to the VPC, narrower than the managed policy."""
    interfaces = _interfaces_arn(stack)
    subnet_arns = [
        stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
        for s in subnets.subnets or []
    ]
    sg_arn = stack.format_arn(
        service="ec2", resource="security-group", resource_name=security_group.security_group_id
    )
    return [
        iam.PolicyStatement(
            sid="CreateFunctionInterfaces",
            actions=["ec2:CreateNetworkInterface"],
            resources=[interfaces, *subnet_arns, sg_arn],
        ),
        iam.PolicyStatement(
            sid="ManageFunctionInterfaces",
            actions=[
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            resources=[interfaces],
        ),
        iam.PolicyStatement(
            sid="DescribeInterfaces",
            actions=["ec2:DescribeNetworkInterfaces"],
            resources=["*"],  # no resource-level permissions
        ),
    ]


def _interfaces_arn(stack: Stack) -> str:
    return stack.format_arn(service="ec2", resource="network-interface", resource_name="*")


def _nag_arn(stack: Stack, arn: str) -> str:
    """An ARN as cdk-nag prints it in finding IDs: the partition token as a placeholder."""
    resolved = stack.resolve(arn)
    if isinstance(resolved, str):  # the partition is known (a feature flag can make it so)
        return resolved
    # With an explicit account and region, the partition is the ARN's only token.
    parts = resolved["Fn::Join"][1]
    return "".join("<AWS::Partition>" if isinstance(part, dict) else part for part in parts)


def _secret_arns(arn: str) -> list[str]:
    """The secret's ARN, also as a name: Secrets Manager appends `-` and 6 random characters,
    so a configured ARN without them must match with a `-??????` wildcard."""
    return [arn, f"{arn}-??????"]
