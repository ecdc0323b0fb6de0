"""The home stack: the controller and the home region's FPGA node groups, wired.

Node groups in other regions are in one stack per region (stacks/region.py).
"""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from constructs import Construct

from burst.tools.deploy.config import DeployConfig
from stacks.controller.construct import Controller
from stacks.controller.monitoring import Monitoring
from stacks.joindata import NodeSecrets
from stacks.network import import_network
from stacks.nodegroup.fleet import region_fleet


class FpgaBurstStack(Stack):
    def __init__(self, scope: Construct, *, config: DeployConfig) -> None:
        super().__init__(
            scope,
            config.stack_name,
            # Explicit account and region: synth never looks anything up, so it works offline
            # and without credentials.
            env=Environment(account=config.account, region=config.region),
            description=f"fpga-burst: serverless FPGA burst for cluster {config.cluster_name}",
        )
        Tags.of(self).add("fpga-burst:cluster", config.cluster_name)
        vpc, subnets = import_network(self, config.vpc_id, config.subnets)
        self.controller = Controller(
            self,
            "Controller",
            config=config,
            vpc=vpc,
            lambda_subnets=list(subnets.values()),
            asg_names=[g.asg_name(config.cluster_name) for g in config.node_groups],
        )
        self.node_groups = region_fleet(
            self,
            config=config,
            region=config.region,
            vpc=vpc,
            subnets=subnets,
            onprem_cidr=config.onprem_cidr,
            secrets=NodeSecrets(join=self.controller.join, vpn_secret_arn=config.vpn_secret_arn),
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            cluster_name=config.cluster_name,
            functions=self.controller.functions,
            failures=self.controller.failures,
            alarm_email=config.alarm_email,
            dashboard=config.dashboard,
        )
