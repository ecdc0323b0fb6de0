"""The one stack `cdk deploy` creates: the controller and the FPGA node groups, wired."""

from __future__ import annotations

from aws_cdk import Environment, Stack, Tags
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.config import DeployConfig
from stacks.controller.construct import Controller
from stacks.controller.monitoring import Monitoring
from stacks.nag import acknowledge
from stacks.nodegroup.construct import NodeAccess, NodeGroup


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
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id=config.vpc_id,
            availability_zones=sorted({s.availability_zone for s in config.subnets}),
        )
        subnets = {
            s.id: ec2.Subnet.from_subnet_attributes(
                self, s.id, subnet_id=s.id, availability_zone=s.availability_zone
            )
            for s in config.subnets
        }
        # Imported subnets come without route tables; nothing here reads them.
        acknowledge(
            self,
            "Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId",
            "The stack never reads the imported subnets' route tables.",
        )
        self.controller = Controller(
            self,
            "Controller",
            config=config,
            vpc=vpc,
            lambda_subnets=list(subnets.values()),
            asg_names=[g.asg_name(config.cluster_name) for g in config.node_groups],
        )
        access = NodeAccess(
            self,
            "NodeAccess",
            vpc=vpc,
            onprem_cidr=config.onprem_cidr,
            join_parameter_arn=self.controller.join_parameter_arn,
            join_key=self.controller.join_key,
            vpn_secret_arn=config.vpn_secret_arn,
            cluster_name=config.cluster_name,
            ssm_session_manager=config.ssm_session_manager,
        )
        self.node_groups = [
            NodeGroup(
                self,
                f"NodeGroup-{group.name}",
                group=group,
                cluster_name=config.cluster_name,
                vpc=vpc,
                subnets=[subnets[s.id] for s in group.subnets],
                access=access,
                join_parameter_name=config.join_parameter_name,
                vpn_secret_arn=config.vpn_secret_arn,
            )
            for group in config.node_groups
        ]
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            cluster_name=config.cluster_name,
            functions=self.controller.functions,
            failures=self.controller.failures,
            alarm_email=config.alarm_email,
        )
