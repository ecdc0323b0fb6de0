"""What the functions may touch: one method per permission set, each a typed `Grant`.

A grant is one IAM statement and the cdk-nag findings it knowingly raises, each with why;
`grant()` gives a function's role its grants and acknowledges exactly their findings. Which
function holds which grants is written in the function table (stacks/controller/functions.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, CfnResource, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from burst.core.asgtags import cluster_tag
from burst.tools.deploy.config import secret_resources
from stacks.joindata import JoinParameter
from stacks.nag import acknowledge

WILDCARD = "AwsSolutions-IAM5[Resource::*]"
WILDCARD_WHY = (
    "Describe* (autoscaling, ec2:DescribeLaunchTemplateVersions, "
    "ec2:DescribeNetworkInterfaces) have no resource-level permissions."
    " Nor do ec2:DescribeSpotPriceHistory, ec2:DescribeInstances and ec2:DescribeTags;"
    " the Service Quotas"
    " reads name AWS's quotas, not a resource of this deployment."
)
ASG_WHY = (
    "An ASG ARN holds a random UUID unknown before creation; the name and "
    "the cluster-tag condition pin the group."
)
INTERFACES_WHY = "Lambda creates the VPC network interfaces; their IDs are not known in advance."
REGION_KEYS_WHY = (
    "Another region's join key is created by that region's stack, so its ID is not known "
    "here; the key is pinned by its alias, the SSM service of its region and the "
    "parameter's encryption context."
)

# Actions a function's role holds that no code of ours calls: AWS calls them with the role.
# The action inventory (tests/cdk/test_iam_inventory.py) allows a role only actions that
# lambdas/burst/adapters/aws calls or that are named here with who calls them.
_VPC = "Lambda, attaching the function to its VPC (AWSLambdaVPCAccessExecutionRole's set)"
_LOGS = "Lambda's runtime, writing the function's own log group"
_DESTINATION = ("Lambda, sending a failed async event to the failure queue (on_failure "
                "destination); CDK's grant_send_messages adds GetQueueAttributes/GetQueueUrl")
CALLED_BY_AWS = {
    "ec2:CreateNetworkInterface": _VPC,
    "ec2:DeleteNetworkInterface": _VPC,
    "ec2:AssignPrivateIpAddresses": _VPC,
    "ec2:UnassignPrivateIpAddresses": _VPC,
    "ec2:DescribeNetworkInterfaces": _VPC,
    "logs:CreateLogStream": _LOGS,
    "logs:PutLogEvents": _LOGS,
    "sqs:SendMessage": _DESTINATION,
    "sqs:GetQueueAttributes": _DESTINATION,
    "sqs:GetQueueUrl": _DESTINATION,
    # Parameter Store encrypts and decrypts a standard SecureString with the caller's
    # permissions ("How AWS Systems Manager Parameter Store uses AWS KMS").
    "kms:Encrypt": "Parameter Store, for the tokens function's PutParameter (SecureString)",
    "kms:Decrypt": "Parameter Store, for the tokens function's GetParameter WithDecryption",
}


@dataclass(frozen=True)
class VpcAttachment:
    """Where the functions attach to the VPC: their subnets and their security group."""

    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup


@dataclass(frozen=True)
class Grant:
    """One permission set: its statement, and the cdk-nag findings (rule, why) it raises."""

    statement: iam.PolicyStatement
    accepted: tuple[tuple[str, str], ...] = ()


class Permissions:
    """The controller's permission sets over one deployment's resources."""

    def __init__(
        self,
        scope: Construct,
        *,
        cluster_name: str,
        asg_names: Sequence[str],
        credentials_secret_arns: Mapping[str, str],
        join: JoinParameter,
        attachment: VpcAttachment,
        regional_asg_names: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """`asg_names`: the home region's groups; `regional_asg_names`: other regions'
        groups by region, where the join parameter of `join`'s name is encrypted with the
        key named by `join`'s key alias."""
        self._stack = Stack.of(scope)
        elsewhere = dict(regional_asg_names or {})
        self._asg_arns = [
            self._stack.format_arn(
                service="autoscaling",
                region=region,
                resource="autoScalingGroup",
                resource_name=f"*:autoScalingGroupName/{name}",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for region, names in [(None, asg_names), *sorted(elsewhere.items())]
            for name in names
        ]
        self._regions = sorted(elsewhere)
        self._join_key_alias = join.key_alias
        self._regional_parameter_arns = [
            self._stack.format_arn(
                service="ssm",
                region=region,
                resource="parameter",
                resource_name=join.name.lstrip("/"),
            )
            for region in self._regions
        ]
        self._cluster_name = cluster_name
        self._credentials_secret_arns = dict(credentials_secret_arns)
        self._join_parameter_arn = join.arn
        self._join_key = join.key
        self._subnets = attachment.subnets
        self._security_group = attachment.security_group

    # --- the node groups ---------------------------------------------------------------

    def describe_groups(self) -> Grant:
        return Grant(
            iam.PolicyStatement(
                sid="DescribeGroups",
                actions=[
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeLaunchConfigurations",
                    "ec2:DescribeLaunchTemplateVersions",
                ],
                resources=["*"],  # these Describe actions have no resource-level permissions
            ),
            ((WILDCARD, WILDCARD_WHY),),
        )

    def read_capacity_market(self) -> Grant:
        """Live Spot prices, the F vCPU quotas and the F instances using them
        (burst.adapters.aws.market)."""
        return Grant(
            iam.PolicyStatement(
                sid="ReadSpotPricesAndQuotas",
                actions=[
                    "ec2:DescribeSpotPriceHistory",
                    "ec2:DescribeInstances",
                    "servicequotas:GetServiceQuota",
                    "servicequotas:GetAWSDefaultServiceQuota",
                ],
                # Read-only; the EC2 Describe actions have no resource-level permissions,
                # and the quota reads name AWS's quota, not a resource of this deployment.
                resources=["*"],
            ),
            ((WILDCARD, WILDCARD_WHY),),
        )

    def read_join_errors(self) -> Grant:
        """The instances' join-error tags, which a node that fails to join writes
        (burst.adapters.aws.lifecycle.join_error)."""
        return Grant(
            iam.PolicyStatement(
                sid="ReadJoinErrors",
                actions=["ec2:DescribeTags"],
                resources=["*"],  # ec2:DescribeTags has no resource-level permissions
            ),
            ((WILDCARD, WILDCARD_WHY),),
        )

    def complete_lifecycle_actions(self) -> Grant:
        return self._owned_groups(
            "CompleteLifecycleActions",
            "autoscaling:CompleteLifecycleAction",
            "autoscaling:RecordLifecycleActionHeartbeat",
        )

    def scale_owned_groups(self) -> Grant:
        return self._owned_groups(
            "ScaleOwnedGroups",
            "autoscaling:SetDesiredCapacity",
            "autoscaling:TerminateInstanceInAutoScalingGroup",
        )

    def _owned_groups(self, sid: str, *actions: str) -> Grant:
        # Only groups that carry this cluster's tag, even if a name were reused.
        owned = {"StringEquals": {f"aws:ResourceTag/{cluster_tag(self._cluster_name)}": "owned"}}
        return Grant(
            iam.PolicyStatement(
                sid=sid, actions=list(actions), resources=self._asg_arns, conditions=owned
            ),
            tuple(
                (f"AwsSolutions-IAM5[Resource::{self._nag_arn(arn)}]", ASG_WHY)
                for arn in self._asg_arns
            ),
        )

    # --- the cluster's credentials and the join data -----------------------------------

    def read_cluster_credentials(self, function: str) -> Grant:
        """`function`'s own credentials secret: its own Kubernetes identity, no other's."""
        return _plain(
            "ReadClusterCredentials",
            "secretsmanager:GetSecretValue",
            secret_resources(self._credentials_secret_arns[function]),
        )

    def read_join_parameter(self) -> Grant:
        return _plain("ReadJoinParameter", "ssm:GetParameter",
                      [self._join_parameter_arn, *self._regional_parameter_arns])

    def write_join_parameter(self) -> Grant:
        return _plain("WriteJoinParameter", "ssm:PutParameter",
                      [self._join_parameter_arn, *self._regional_parameter_arns])

    def encrypt_join_parameter_in_regions(self) -> Grant | None:
        """The other regions' join keys, for their copies of the parameter; None if none."""
        if not self._regions:
            return None
        keys = [
            self._stack.format_arn(service="kms", region=r, resource="key", resource_name="*")
            for r in self._regions
        ]
        return Grant(
            iam.PolicyStatement(
                sid="EncryptJoinParameterInRegions",
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
                resources=keys,
                conditions={
                    "StringEquals": {
                        "kms:ViaService": [f"ssm.{r}.amazonaws.com" for r in self._regions],
                        "kms:EncryptionContext:PARAMETER_ARN": self._regional_parameter_arns,
                    },
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [self._join_key_alias]},
                },
            ),
            tuple((f"AwsSolutions-IAM5[Resource::{self._nag_arn(k)}]", REGION_KEYS_WHY)
                  for k in keys),
        )

    def encrypt_join_parameter(self) -> Grant:
        return Grant(
            iam.PolicyStatement(
                sid="EncryptJoinParameter",
                # A standard SecureString is encrypted with Encrypt, not GenerateDataKey
                # (that is the advanced tier's envelope encryption; KMS developer guide,
                # "How AWS Systems Manager Parameter Store uses AWS KMS"); PutParameter
                # asks for no tier, and the join data is far below standard's 4 KB.
                actions=["kms:Encrypt", "kms:Decrypt"],
                resources=[self._join_key.key_arn],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"ssm.{self._stack.region}.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": self._join_parameter_arn,
                    }
                },
            )
        )

    # --- the VPC attachment, which every function has ----------------------------------

    def attach_to_vpc(self) -> list[Grant]:
        """What Lambda needs to attach a function to the VPC, narrower than the managed policy."""
        interfaces = self._stack.format_arn(
            service="ec2", resource="network-interface", resource_name="*"
        )
        subnet_arns = [
            self._stack.format_arn(service="ec2", resource="subnet", resource_name=s.subnet_id)
            for s in self._subnets.subnets or []
        ]
        sg_arn = self._stack.format_arn(
            service="ec2",
            resource="security-group",
            resource_name=self._security_group.security_group_id,
        )
        interfaces_finding = (f"AwsSolutions-IAM5[Resource::{self._nag_arn(interfaces)}]",
                              INTERFACES_WHY)
        return [
            Grant(
                iam.PolicyStatement(
                    sid="CreateFunctionInterfaces",
                    actions=["ec2:CreateNetworkInterface"],
                    resources=[interfaces, *subnet_arns, sg_arn],
                ),
                (interfaces_finding,),
            ),
            Grant(
                iam.PolicyStatement(
                    sid="ManageFunctionInterfaces",
                    actions=[
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    resources=[interfaces],
                ),
                (interfaces_finding,),
            ),
            Grant(
                iam.PolicyStatement(
                    sid="DescribeInterfaces",
                    actions=["ec2:DescribeNetworkInterfaces"],
                    resources=["*"],  # no resource-level permissions
                ),
                ((WILDCARD, WILDCARD_WHY),),
            ),
        ]

    def _nag_arn(self, arn: str) -> str:
        """An ARN as cdk-nag prints it in finding IDs: the partition token as a placeholder."""
        resolved = self._stack.resolve(arn)
        if isinstance(resolved, str):  # the partition is known (a feature flag can make it so)
            return resolved
        # With an explicit account and region, the partition is the ARN's only token.
        parts = resolved["Fn::Join"][1]
        return "".join("<AWS::Partition>" if isinstance(p, dict) else p for p in parts)


def grant(function: lambda_.Function, grants: Sequence[Grant]) -> None:
    """Adds the grants to the function's own role and acknowledges what they knowingly raise."""
    role = function.role
    assert role is not None
    for each in grants:
        role.add_to_principal_policy(each.statement)
    stack = Stack.of(function)
    policy = role.node.find_child("DefaultPolicy").node.default_child
    cfn_function = function.node.default_child
    assert isinstance(policy, CfnResource) and isinstance(cfn_function, CfnResource)
    # The policy must exist first (Lambda checks the ENI permissions on create); the role
    # already is a dependency through Fn::GetAtt, and cfn-lint (W3005) says so.
    cfn_function.add_override("DependsOn", [stack.get_logical_id(policy)])
    accepted = dict(finding for each in grants for finding in each.accepted)
    for rule, why in accepted.items():
        acknowledge(role, rule, why)


def _plain(sid: str, action: str, resources: list[str]) -> Grant:
    """One action on named resources, no condition, nothing for cdk-nag to accept."""
    return Grant(iam.PolicyStatement(sid=sid, actions=[action], resources=resources))
