"""The function table: each function's handler, limits, async retries and what it may touch.

`build_function` makes one function from its spec: its log group, its own role (so each
holds only what its handler calls) and the function, in the scope it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.tools.deploy import functions as deploy
from stacks import checkov
from stacks.checkov import FUNCTION_SKIPS, LOG_GROUP_SKIP
from stacks.controller.grants import Grant, Permissions
from stacks.nag import acknowledge


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
    # The permission sets its handler calls for, besides its logs, the failure queue, the
    # VPC attachment and its own credentials secret, which every function has.
    may: tuple[Callable[[Permissions], Grant], ...]
    reserved_concurrency: int | None = None
    # Why no reserved concurrency, if none (checkov CKV_AWS_115 asks for one).
    unreserved_why: str = ""


def _duration(span: timedelta) -> Duration:
    return Duration.seconds(span.total_seconds())


def _spec(
    name: str,
    description: str,
    *,
    retry_attempts: int,
    max_event_age: Duration,
    may: tuple[Callable[[Permissions], Grant], ...],
    reserved_concurrency: int | None = None,
    unreserved_why: str = "",
) -> FunctionSpec:
    """The function `name`: its handler is burst.handlers.<name>, its timeout the deployed
    one (burst.tools.deploy.functions.TIMEOUTS)."""
    return FunctionSpec(name, f"burst.handlers.{name}.handler",
                        _duration(deploy.TIMEOUTS[name]), description, retry_attempts,
                        max_event_age, may, reserved_concurrency, unreserved_why)


# The scaler's timeout by deployment `scaler.mode` (why: burst.tools.deploy.functions).
SCALER_TIMEOUTS = {mode: _duration(t) for mode, t in deploy.SCALER_TIMEOUTS.items()}
SCALER = _spec(
    "scaler",  # specs(mode) sets the deployment's timeout
    "fpga-burst: scale FPGA node groups up for pending pods, remove unneeded nodes",
    # Throttled ticks are retried within max_event_age whatever retry_attempts says.
    retry_attempts=0,
    max_event_age=_duration(deploy.SCALER_MAX_EVENT_AGE),
    may=(
        Permissions.describe_groups,
        Permissions.complete_lifecycle_actions,
        Permissions.scale_owned_groups,
        Permissions.read_capacity_market,
    ),
    # One decision at a time: two scalers could both ask for the same capacity.
    reserved_concurrency=1,
)
LIFECYCLE = _spec(
    "lifecycle",
    "fpga-burst: complete ASG launch/terminate lifecycle actions (join check, drain)",
    # Retrying is safe (level-triggered) and worth it within the hooks' timeouts.
    retry_attempts=2,
    max_event_age=Duration.minutes(10),
    may=(
        Permissions.describe_groups,
        Permissions.complete_lifecycle_actions,
        Permissions.read_join_errors,
    ),
    unreserved_why=(
        "One invocation per instance in a launch or terminate hook, so as many as the groups' "
        "max_size allow at once; a cap would queue hook events behind each other during a "
        "scale-up and run them into the hooks' timeouts."
    ),
)
TOKENS = _spec(
    "tokens",
    "fpga-burst: rotate the kubeadm bootstrap token and publish the join data",
    retry_attempts=0,
    max_event_age=Duration.minutes(5),
    may=(
        Permissions.read_join_parameter,
        Permissions.write_join_parameter,
        Permissions.encrypt_join_parameter,
    ),
    unreserved_why=(
        "One run per 15-minute schedule (or an operator's run-now), done in seconds; "
        "a reservation would take from the account's unreserved pool, which Lambda keeps "
        "at 10 or more and which is all a new account has (README, Prerequisites)."
    ),
)
FUNCTIONS = (SCALER, LIFECYCLE, TOKENS)


def specs(scaler_mode: str) -> tuple[FunctionSpec, ...]:
    """The function table for a deployment whose scaler runs in `scaler_mode`."""
    timeout = SCALER_TIMEOUTS[scaler_mode]
    return tuple(replace(s, timeout=timeout) if s is SCALER else s for s in FUNCTIONS)


@dataclass(frozen=True)
class Shared:
    """What every function gets alike: code, layer, settings, network, failure queue."""

    cluster_name: str
    code: lambda_.Code
    layer: lambda_.ILayerVersion
    environment: Mapping[str, dict[str, str]]  # by function name
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    failures: sqs.IQueue


def build_function(scope: Construct, spec: FunctionSpec, shared: Shared) -> lambda_.Function:
    name = f"fpga-burst-{shared.cluster_name}-{spec.name}"
    title = spec.name.capitalize()
    log_group = logs.LogGroup(
        scope,
        f"{title}Logs",
        log_group_name=f"/aws/lambda/{name}",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
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
        scope,
        title,
        function_name=name,
        description=spec.description,
        runtime=lambda_.Runtime.PYTHON_3_12,
        architecture=lambda_.Architecture.ARM_64,
        handler=spec.handler,
        code=shared.code,
        layers=[shared.layer],
        memory_size=deploy.MEMORY_MB,
        timeout=spec.timeout,
        environment=shared.environment[spec.name],
        role=role,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        vpc=shared.vpc,
        vpc_subnets=shared.subnets,
        security_groups=[shared.security_group],
        reserved_concurrent_executions=spec.reserved_concurrency,
        retry_attempts=spec.retry_attempts,
        max_event_age=spec.max_event_age,
        on_failure=destinations.SqsDestination(shared.failures),
        tracing=lambda_.Tracing.DISABLED,
    )
    for check, why in FUNCTION_SKIPS:
        checkov.skip(function, check, why)
    if spec.reserved_concurrency is None:
        checkov.skip(function, "CKV_AWS_115", spec.unreserved_why)
    checkov.skip(log_group, *LOG_GROUP_SKIP)
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Python 3.12 is the runtime the dependency layer is built and tested for "
        "(stacks/controller/layer.py PYTHON_VERSION); move both together.",
    )
    return function
