"""The controller: three functions, what wakes them, and exactly what they may touch.

scaler (1-minute schedule), lifecycle (ASG lifecycle-action events of the managed groups;
Spot interruption, rebalance and AWS Health scheduled-change notices)
and tokens (15-minute schedule) share one code asset (`lambdas/`), one dependency layer and
one environment, built by burst.tools.deploy.functions.environment: the only place the
functions' settings are named.
Each concern has its module: the function table (functions.py), what each may touch
(grants.py), what wakes them (triggers.py); `Controller` wires them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from burst.tools.deploy.config import DeployConfig
from burst.tools.deploy.functions import environment
from stacks import checkov
from stacks.controller.functions import LIFECYCLE, TOKENS, Shared, build_function, specs
from stacks.controller.grants import Permissions, VpcAttachment, grant
from stacks.controller.layer import dependency_layer
from stacks.controller.triggers import SCHEDULES, instance_notices, lifecycle_actions, schedule
from stacks.joindata import JoinParameter
from stacks.keys import own_key
from stacks.nag import acknowledge

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
# The functions' code asset: the package without burst/tools (the `burst` command, the demo,
# the simulator), so editing a tool neither grows nor redeploys the functions.
ASSET_EXCLUDE = (
    "*.egg-info", "**/__pycache__", "**/*.pyc", "**/.*", "burst/tools", "burst/tools/**",
)


class Controller(Construct):
    """The functions, wired: their table, grants and triggers, the join key and failure queue."""

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
        self.join_key = own_key(
            self,
            "JoinKey",
            description=f"fpga-burst {config.cluster_name}: the join-data SecureString parameter",
        )
        # CloudFormation cannot create SecureString parameters; the tokens function creates
        # and overwrites it (PutParameter Type=SecureString, KeyId=this key).
        self.join_parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=config.join_parameter_name[1:]
        )
        self.join = JoinParameter(name=config.join_parameter_name, arn=self.join_parameter_arn,
                                  key=self.join_key, key_alias=config.join_key_alias)
        self.failures = sqs.Queue(
            self,
            "Failures",
            # Events that EventBridge could not deliver or a function gave up on; kept for
            # reading, never replayed automatically (the next tick reconciles anyway).
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        checkov.skip(
            self.failures,
            "CKV_AWS_27",
            "Encrypted with SSE-SQS (SqsManagedSseEnabled), which CKV_AWS_27 does not "
            "recognise; a customer key would need EventBridge in its key policy and KMS grants "
            "on every role, for failed event envelopes that hold no secret.",
        )
        acknowledge(
            self.failures,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the rules and the functions' "
            "failure destination; cdk-nag only recognises DLQs of other queues.",
        )
        self.layer = dependency_layer(self, "Dependencies")
        security_group = ec2.SecurityGroup.from_security_group_id(
            self, "LambdaSecurityGroup", config.lambda_security_group_id, mutable=False
        )
        subnets = ec2.SubnetSelection(subnets=list(lambda_subnets))
        shared = Shared(
            cluster_name=config.cluster_name,
            code=lambda_.Code.from_asset(str(LAMBDAS), exclude=list(ASSET_EXCLUDE)),
            layer=self.layer,
            environment={f: environment(config, join_key_arn=self.join_key.key_arn, function=f)
                         for f in config.credentials_secret_arns},
            vpc=vpc,
            subnets=subnets,
            security_group=security_group,
            failures=self.failures,
        )
        # Each group's ARN in its own region; the lifecycle rule below takes every name.
        elsewhere = {r: [g.asg_name(config.cluster_name) for g in config.groups_in(r)]
                     for r in config.regions}
        permissions = Permissions(
            self,
            cluster_name=config.cluster_name,
            asg_names=[n for n in asg_names if not any(n in ns for ns in elsewhere.values())],
            credentials_secret_arns=config.credentials_secret_arns,
            join=self.join,
            attachment=VpcAttachment(subnets=subnets, security_group=security_group),
            regional_asg_names=elsewhere,
        )
        self.functions: dict[str, lambda_.Function] = {}
        regional_keys = permissions.encrypt_join_parameter_in_regions()
        for spec in specs(config.scaler_mode):
            function = build_function(self, spec, shared)
            extra = [regional_keys] if regional_keys and spec.name == TOKENS.name else []
            grant(function, [*(may(permissions) for may in spec.may),
                             permissions.read_cluster_credentials(spec.name),
                             *permissions.attach_to_vpc(), *extra])
            self.functions[spec.name] = function
        for name in SCHEDULES:
            schedule(self, name, self.functions[name], dead_letters=self.failures)
        lifecycle_actions(
            self, self.functions[LIFECYCLE.name], asg_names=asg_names, dead_letters=self.failures
        )
        # Which instances are ours is read by the function (DescribeAutoScalingGroups, which
        # it already holds for the lifecycle actions): no new permission.
        instance_notices(self, self.functions[LIFECYCLE.name], dead_letters=self.failures)
