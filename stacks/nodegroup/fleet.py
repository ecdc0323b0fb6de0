"""One region's node groups and the node access they share, as a stack builds them."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from burst.tools.deploy.config import DeployConfig
from stacks.joindata import NodeSecrets
from stacks.nodegroup.construct import NodeAccess, NodeGroup
from stacks.nodegroup.image import NodeImage


def region_fleet(
    scope: Construct,
    *,
    config: DeployConfig,
    region: str,
    vpc: ec2.IVpc,
    subnets: Mapping[str, ec2.ISubnet],
    onprem_cidr: str | None,
    secrets: NodeSecrets,
) -> list[NodeGroup]:
    """The groups of `region`, each reading that region's join parameter and VPN secret;
    those without an ami_id launch the node image, built here once for the region."""
    access = NodeAccess(
        scope,
        "NodeAccess",
        vpc=vpc,
        onprem_cidr=onprem_cidr,
        secrets=secrets,
        cluster_name=config.cluster_name,
        ssm_session_manager=config.ssm_session_manager,
    )
    groups = config.groups_in(region)
    image_id = ""
    if any(not g.ami_id for g in groups):
        assert config.node_image is not None  # the config requires it then
        image_id = NodeImage(scope, "NodeImage", settings=config.node_image,
                             subnet=subnets[groups[0].subnets[0].id],
                             security_group=access.security_group).image_id
    return [
        NodeGroup(
            scope,
            f"NodeGroup-{group.name}",
            group=group,
            vpc=vpc,
            subnets=[subnets[s.id] for s in group.subnets],
            access=access,
            image_id=group.ami_id or image_id,
        )
        for group in groups
    ]
