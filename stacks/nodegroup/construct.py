"""FPGA node groups: what the seed built with `aws autoscaling create-*`, done right.

`NodeAccess` is what every group's instances share (instance role, security group);
`NodeGroup` is one launch template + Auto Scaling group + lifecycle hooks per configured
group, tagged the Cluster Autoscaler way so the controller (and CA, if someone runs it)
discovers it and knows its nodes' labels, taints and boards before any node exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, Stack, Tags
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from burst.core.asgtags import JOIN_ERROR_TAG
from burst.core.names import Hook
from burst.core.spot import SPOT
from burst.tools.deploy.config import (
    LAUNCH_HOOK_TIMEOUT_SECONDS,
    TERMINATE_HOOK_TIMEOUT_SECONDS,
    secret_resources,
)
from burst.tools.deploy.groups import NodeGroupConfig
from burst.tools.deploy.tags import autoscaler_tags, node_labels
from stacks.joindata import NodeSecrets
from stacks.nag import acknowledge
from stacks.nodegroup import user_data

KUBELET_PORT = 10250


class NodeAccess(Construct):
    """The instance role and security group shared by all FPGA node groups."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vpc: ec2.IVpc,
        onprem_cidr: str | None,
        secrets: NodeSecrets,
        cluster_name: str,
        ssm_session_manager: bool = False,
    ) -> None:
        super().__init__(scope, id)
        # What every group's nodes share besides the role: the cluster and what they read.
        self.cluster_name = cluster_name
        self.secrets = secrets
        join_parameter_arn = secrets.join.arn
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="fpga-burst FPGA nodes: VPN, registries and AWS APIs outbound",
            # Nodes dial out to the VPN server, image registries and AWS endpoints, whose
            # addresses are not known here.
            allow_all_outbound=True,
        )
        # Traffic through each node's own tun0 never meets this group; this rule is for
        # networks that route on-prem to the VPC (site-to-site VPN, Direct Connect), where the
        # API server reaches kubelets (logs, exec) directly. Without one: no inbound rule.
        if onprem_cidr is not None:
            self.security_group.add_ingress_rule(
                ec2.Peer.ipv4(onprem_cidr),
                ec2.Port.tcp(KUBELET_PORT),
                "kubelet API from the on-prem control plane",
            )
        # Two roles. A node boots with the first: it reads the join data and the VPN secret,
        # joins, then swaps its own instance profile for the second (bootstrap.sh), which
        # holds none of that, so after the join neither it nor a pod that reaches IMDS can
        # read the join token or the VPN login again.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="fpga-burst FPGA nodes until joined: read the join parameter and the "
            "VPN secret",
        )
        self.joined_role = iam.Role(
            self,
            "JoinedRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description="fpga-burst FPGA nodes once joined: no join data, no VPN secret",
        )
        stack = Stack.of(self)
        # Named, so the node's user data carries the name, not a CloudFormation token.
        self.joined_profile_name = f"fpga-burst-{cluster_name}-joined-{stack.region}"
        self.joined_profile = iam.InstanceProfile(
            self, "JoinedProfile", role=self.joined_role,
            instance_profile_name=self.joined_profile_name,
        )
        joined_profile_arn = self.joined_profile.instance_profile_arn
        instance = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:instance/"
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadJoinParameter",
                actions=["ssm:GetParameter"],
                resources=[join_parameter_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DecryptJoinParameter",
                actions=["kms:Decrypt"],
                resources=[secrets.join.key.key_arn],
                # Only as SSM decrypting that one parameter, not anything else under the key.
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"ssm.{Stack.of(self).region}.amazonaws.com",
                        "kms:EncryptionContext:PARAMETER_ARN": join_parameter_arn,
                    }
                },
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadVpnSecret",
                actions=["secretsmanager:GetSecretValue"],
                # Full or partial, as the controller's grant (secret_resources)
                resources=secret_resources(secrets.vpn_secret_arn),
            )
        )
        self.role.add_to_policy(
            # Its own instance, and only the one tag key a failed join writes.
            _on_own_instance(instance, "TagJoinError", "ec2:CreateTags",
                             {"ForAllValues:StringEquals": {"aws:TagKeys": [JOIN_ERROR_TAG]}})
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="FindOwnProfileAssociation",
                actions=["ec2:DescribeIamInstanceProfileAssociations"],
                resources=["*"],  # a Describe action: no resource-level permissions
            )
        )
        self.role.add_to_policy(
            # Its own, and only to the joined profile ("ec2:NewInstanceProfile": the ARN
            # of the instance profile being attached), whose role may not swap back.
            _on_own_instance(instance, "SwapToJoinedProfile",
                             "ec2:ReplaceIamInstanceProfileAssociation",
                             {"ArnEquals": {"ec2:NewInstanceProfile": joined_profile_arn}})
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassJoinedRole",
                actions=["iam:PassRole"],
                resources=[self.joined_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}},
            )
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeIamInstanceProfileAssociations has no resource-level permissions; "
            "it returns association IDs, which are no use without the swap's own grant.",
        )
        instances = f"ec2:{stack.region}:{stack.account}:instance/*"
        # cdk-nag names the partition as a token or resolved, depending on how it is run.
        for partition in ("<AWS::Partition>", "aws"):
            acknowledge(
                self.role,
                f"AwsSolutions-IAM5[Resource::arn:{partition}:{instances}]",
                "A node tags, and swaps the profile of, its own instance only: the condition "
                "ec2:SourceInstanceARN = instance/${ec2:InstanceID} pins it; CloudFormation "
                "takes no policy variable as a whole Resource.",
            )
        if ssm_session_manager:
            self._session_manager(join_parameter_arn)

    def _session_manager(self, join_parameter_arn: str) -> None:
        """Session Manager on both roles; AmazonSSMManagedInstanceCore also allows
        ssm:GetParameter(s) on every parameter of the account, which an explicit Deny takes
        back: before the join, all but the join parameter; after it, all of them."""
        parameters = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath",
                      "ssm:GetParameterHistory"]
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="NoOtherParameters",
                effect=iam.Effect.DENY,
                actions=parameters,
                not_resources=[join_parameter_arn],
            )
        )
        self.joined_role.add_to_policy(
            iam.PolicyStatement(
                sid="NoParameters",
                effect=iam.Effect.DENY,
                actions=parameters,
                resources=["*"],
            )
        )
        for role in (self.role, self.joined_role):
            role.add_managed_policy(
                iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")
            )
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                "AmazonSSMManagedInstanceCore]",
                "Session Manager access to the nodes, asked for in the config "
                "(node_access.ssm_session_manager); AWS keeps this policy's actions current. "
                "Its parameter reads are denied (NoOtherParameters, NoParameters).",
            )


def _on_own_instance(
    instance: str, sid: str, action: str, condition: dict[str, Any]
) -> iam.PolicyStatement:
    """`action` on the node's own instance only, under `condition` besides.

    The instance the request comes from ("ec2:SourceInstanceARN") is the instance acted on,
    named by its id ("ec2:InstanceID", as a policy variable; Amazon EC2 condition keys,
    Service Authorization Reference). CloudFormation takes no policy variable as a whole
    Resource, so the resource is any instance (`instance`: the instance ARN up to the id)
    and the condition pins it.
    """
    itself = {"StringEquals": {"ec2:SourceInstanceARN": instance + "${ec2:InstanceID}"}}
    return iam.PolicyStatement(
        sid=sid, actions=[action], resources=[instance + "*"], conditions={**itself, **condition}
    )


def _launch(group: NodeGroupConfig, template: ec2.LaunchTemplate) -> dict[str, Any]:
    """How the group launches: its launch template, or for Spot a mixed instances policy.

    Spot through a MixedInstancesPolicy (all of it Spot: no on-demand base, 0 % on-demand
    above it; price-capacity-optimized), not InstanceMarketOptions in the launch template:
    it is the form Auto Scaling documents for Spot ("Auto Scaling groups with multiple
    instance types and purchase options"; API_MixedInstancesPolicy), the allocation
    strategy then picks the Spot pool least likely to be interrupted at a low price among
    the group's AZs, and a later second size is one more override, not a new group. The
    single override keeps one instance type per group, which the planner's one template
    per group assumes.
    """
    if group.capacity_type != SPOT:
        return {"launch_template": template}
    return {
        "mixed_instances_policy": autoscaling.MixedInstancesPolicy(
            launch_template=template,
            launch_template_overrides=[
                autoscaling.LaunchTemplateOverrides(
                    instance_type=ec2.InstanceType(group.instance_type)
                )
            ],
            instances_distribution=autoscaling.InstancesDistribution(
                on_demand_base_capacity=0,
                on_demand_percentage_above_base_capacity=0,
                spot_allocation_strategy=autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
            ),
        )
    }


class NodeGroup(Construct):
    """One FPGA node group: launch template, Auto Scaling group (min 0), lifecycle hooks."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group: NodeGroupConfig,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        access: NodeAccess,
        image_id: str,
    ) -> None:
        """`image_id`: the group's ami_id, or the node image the stack builds (image.py);
        `access`: the role its nodes launch with, and their cluster and secrets."""
        super().__init__(scope, id)
        region = Stack.of(self).region
        cluster_name = access.cluster_name
        self.asg_name = group.asg_name(cluster_name)
        script = user_data.render(
            user_data.settings(
                region=region,
                join_parameter=access.secrets.join.name,
                vpn_secret_arn=access.secrets.vpn_secret_arn,
                joined_profile=access.joined_profile_name,
                labels=node_labels(group),
                taints=group.taints,
            )
        )
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            launch_template_name=self.asg_name,
            instance_type=ec2.InstanceType(group.instance_type),
            machine_image=ec2.MachineImage.generic_linux({region: image_id}),
            user_data=ec2.UserData.custom(script),
            role=access.role,
            security_group=access.security_group,
            require_imdsv2=True,
            # One hop: pods (one hop further, in their network namespace) cannot reach IMDS
            # and borrow the node role, which can read the join token and the VPN login.
            http_put_response_hop_limit=1,
            block_devices=[
                ec2.BlockDevice(
                    device_name=group.root_device_name,
                    volume=ec2.BlockDeviceVolume.ebs(
                        group.root_volume_gib,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        self.asg = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=self.asg_name,
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
            **_launch(group, self.launch_template),
            min_capacity=group.min_size,
            max_capacity=group.max_size,
            # No desired capacity: the controller owns it, and a redeploy must not reset it.
            # Scale-in protection: the group never picks an instance to remove on its own
            # (a lowered desired capacity, or Availability Zone rebalancing, which a
            # TerminateInstanceInAutoScalingGroup across zones sets off and which chooses
            # by termination policy among unprotected instances only). fpga-burst's own
            # removals are TerminateInstanceInAutoScalingGroup, which protection does not
            # stop (EC2 Auto Scaling User Guide, "Use instance scale-in protection").
            new_instances_protected_from_scale_in=True,
        )
        hooks = (
            # An instance whose node never joins and shows its boards is not kept.
            ("LaunchHook", Hook.LAUNCH, autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
             autoscaling.DefaultResult.ABANDON, LAUNCH_HOOK_TIMEOUT_SECONDS),
            # Termination goes ahead after the drain deadline: a stuck drain must not pin cost.
            ("TerminateHook", Hook.TERMINATE,
             autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
             autoscaling.DefaultResult.CONTINUE, TERMINATE_HOOK_TIMEOUT_SECONDS),
        )
        for hook_id, name, transition, default_result, timeout in hooks:
            self.asg.add_lifecycle_hook(
                hook_id,
                lifecycle_hook_name=name,
                lifecycle_transition=transition,
                default_result=default_result,
                heartbeat_timeout=Duration.seconds(timeout),
            )
        for key, value in autoscaler_tags(group, cluster_name).items():
            Tags.of(self.asg).add(key, value, apply_to_launched_instances=False)
        Tags.of(self.asg).add("Name", self.asg_name, apply_to_launched_instances=True)
        acknowledge(
            self.asg,
            "AwsSolutions-AS3",
            "Scaling events reach the controller through EventBridge (lifecycle actions, "
            "launch failures), not SNS notifications.",
        )
