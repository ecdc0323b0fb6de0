"""One stack per region besides the home one: that region's FPGA node groups.

The functions stay in the home stack and reach these groups through regional clients.
What each node needs is here, in its own region: the join-data key (the tokens function
writes the parameter of the same name here, encrypting with this key by its alias), the
node role reading this region's parameter and VPN secret, the region's network, and
rules forwarding the groups' lifecycle actions and the region's instance notices (Spot
interruptions, rebalance recommendations, Health scheduled changes) to the home region's
event bus, where the lifecycle function's rules pick them up. Explicit account and
region: synth needs no credentials, and nothing crosses stacks but names known from the
config.
"""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

from burst.core.regions import partition
from burst.tools.deploy.config import DeployConfig
from burst.tools.deploy.names import region_stack
from stacks.controller.triggers import forward_instance_notices, forward_lifecycle_actions
from stacks.joindata import JoinParameter, NodeSecrets
from stacks.keys import own_key
from stacks.network import import_network
from stacks.nodegroup.fleet import region_fleet


class RegionStack(Stack):
    def __init__(self, scope: Construct, *, config: DeployConfig, region: str) -> None:
        super().__init__(
            scope,
            region_stack(config.stack_name, region),
            env=Environment(account=config.account, region=region),
            description=f"fpga-burst: FPGA node groups of cluster {config.cluster_name} "
            f"in {region}",
        )
        Tags.of(self).add("fpga-burst:cluster", config.cluster_name)
        network = config.regions[region]
        vpc, subnets = import_network(self, network.vpc_id, network.subnets)
        self.join_key = own_key(
            self,
            "JoinKey",
            description=f"fpga-burst {config.cluster_name}: the join-data SecureString "
            f"parameter in {region}",
        )
        kms.Alias(self, "JoinKeyAlias", alias_name=config.join_key_alias,
                  target_key=self.join_key)
        self.join_parameter_arn = self.format_arn(
            service="ssm", resource="parameter", resource_name=config.join_parameter_name[1:]
        )
        self.join = JoinParameter(name=config.join_parameter_name, arn=self.join_parameter_arn,
                                  key=self.join_key, key_alias=config.join_key_alias)
        self.node_groups = region_fleet(
            self,
            config=config,
            region=region,
            vpc=vpc,
            subnets=subnets,
            onprem_cidr=network.onprem_cidr,
            secrets=NodeSecrets(join=self.join, vpn_secret_arn=network.vpn_secret_arn),
        )
        home_bus = (f"arn:{partition(config.region)}:events:{config.region}:{config.account}"
                    ":event-bus/default")
        bus = events.EventBus.from_event_bus_arn(self, "HomeBus", home_bus)
        forward_lifecycle_actions(
            self, asg_names=[g.asg_name for g in self.node_groups], home_bus=bus,
        )
        forward_instance_notices(self, home_bus=bus)


def region_stacks(scope: Construct, config: DeployConfig) -> list[RegionStack]:
    """A stack for each other region, in the order of their names."""
    return [RegionStack(scope, config=config, region=r) for r in sorted(config.regions)]
