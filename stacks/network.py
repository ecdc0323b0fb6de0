"""A region's existing network, imported by ID: the VPC and its subnets (no look-ups)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from burst.tools.deploy.groups import Subnet
from stacks.nag import acknowledge


def import_network(
    scope: Construct, vpc_id: str, subnets: Sequence[Subnet]
) -> tuple[ec2.IVpc, dict[str, ec2.ISubnet]]:
    """The VPC and each subnet by ID, as given in the config: synth needs no credentials."""
    vpc = ec2.Vpc.from_vpc_attributes(
        scope,
        "Vpc",
        vpc_id=vpc_id,
        availability_zones=sorted({s.availability_zone for s in subnets}),
    )
    imported = {
        s.id: ec2.Subnet.from_subnet_attributes(
            scope, s.id, subnet_id=s.id, availability_zone=s.availability_zone
        )
        for s in subnets
    }
    # Imported subnets come without route tables; nothing here reads them.
    acknowledge(
        scope,
        "Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId",
        "The stack never reads the imported subnets' route tables.",
    )
    return vpc, imported
