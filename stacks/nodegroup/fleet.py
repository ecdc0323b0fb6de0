"""One region's node groups and the node access they share, as a stack builds them."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from constructs import Construct

from stacks.config import DeployConfig
from stacks.nodegroup.construct import NodeAccess, NodeGroup


def region_fleet(
    scope: Construct,
    *,
    config: DeployConfig,
    region: str,
    vpc: ec2.IVpc,
    subnets: Mapping[str, ec2.ISubnet],
    onprem_cidr: str,
    vpn_secret_arn: str,
    join_parameter_arn: str,
    join_key: kms.IKey,
) -> list[NodeGroup]:
    """The groups of `region`, each reading that region's join parameter and VPN secret."""
    access = NodeAccess(
        scope,
        "NodeAccess",
        vpc=vpc,
        onprem_cidr=onprem_cidr,
        join_parameter_arn=join_parameter_arn,
        join_key=join_key,
        vpn_secret_arn=vpn_secret_arn,
        cluster_name=config.cluster_name,
        ssm_session_manager=config.ssm_session_manager,
    )
    return [
        NodeGroup(
            scope,
            f"NodeGroup-{group.name}",
            group=group,
            cluster_name=config.cluster_name,
            vpc=vpc,
            subnets=[subnets[s.id] for s in group.subnets],
            access=access,
            join_parameter_name=config.join_parameter_name,
            vpn_secret_arn=vpn_secret_arn,
        )
        for group in config.groups_in(region)
    ]
