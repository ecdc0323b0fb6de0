"""The preflight's AWS reads (burst.ports.doctor): lifecycle hooks, the join parameter's age,
the deployed functions' environment, the alarms; before deploy the account, secrets, AMIs,
offerings, quotas and the VPC's routes, endpoints and network ACLs. Read-only; errors leave
as burst.core.errors types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from burst.adapters.aws.market import ec2_quota
from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.session import Clients, calling
from burst.core.errors import AwsError
from burst.ports.doctor import AclRule, AlarmState, Image, Route

# The variable every function of a deployment carries (stacks/controller/construct.py).
CLUSTER_VARIABLE = "FPGA_BURST_CLUSTER_NAME"
# A route's target, as DescribeRouteTables gives it: the first of these keys it carries.
_TARGETS = ("GatewayId", "NatGatewayId", "TransitGatewayId", "VpcPeeringConnectionId",
            "NetworkInterfaceId", "InstanceId", "LocalGatewayId", "CarrierGatewayId")


class AwsDoctor:
    """HookReader, ParameterReader, DeployedFunctions, AwsPreflight, NetworkReader and
    AlarmReader over one Clients."""

    def __init__(self, clients: Clients, regions: GroupRegions | None = None) -> None:
        self.clients = clients
        self.regions = regions or GroupRegions(clients)

    def lifecycle_hooks(self, node_group: str) -> tuple[str, ...]:
        """The group's hooks, asked of its own region."""
        client = self.regions.client("autoscaling", self.regions.of_group(node_group))
        with calling("DescribeLifecycleHooks"):
            reply = client.describe_lifecycle_hooks(
                AutoScalingGroupName=node_group
            )
        return tuple(sorted(h["LifecycleHookName"] for h in reply.get("LifecycleHooks", [])))

    def last_modified(self, name: str) -> datetime | None:
        # Without decryption: the date is metadata, and these credentials need no KMS grant.
        try:
            with calling("GetParameter"):
                reply = self.clients.client("ssm").get_parameter(Name=name, WithDecryption=False)
        except AwsError as exc:
            if exc.code == "ParameterNotFound":
                return None
            raise
        modified: datetime = reply["Parameter"]["LastModifiedDate"]
        return modified

    def environments(self, cluster: str) -> Mapping[str, Mapping[str, str]]:
        """By the cluster variable in their environment, so no function name is assumed."""
        found: dict[str, Mapping[str, str]] = {}
        paginator = self.clients.client("lambda").get_paginator("list_functions")
        with calling("ListFunctions"):
            for page in paginator.paginate():
                for fn in page.get("Functions", []):
                    env = (fn.get("Environment") or {}).get("Variables") or {}
                    if env.get(CLUSTER_VARIABLE) == cluster:
                        found[fn["FunctionName"]] = dict(env)
        return found

    # AwsPreflight: what the account holds before anything is deployed.

    def account(self) -> str:
        with calling("GetCallerIdentity"):
            return str(self.clients.client("sts").get_caller_identity()["Account"])

    def secret_text(self, arn: str) -> str | None:
        # The secret's own region (a VPN secret of another region lives there).
        region = arn.split(":")[3] if arn.count(":") >= 6 else None
        try:
            with calling("GetSecretValue"):
                reply = self.clients.client("secretsmanager", region).get_secret_value(
                    SecretId=arn)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                return None
            raise
        text = reply.get("SecretString")
        return None if text is None else str(text)

    def image(self, region: str, image_id: str) -> Image | None:
        try:
            with calling("DescribeImages"):
                images = self.clients.client("ec2", region).describe_images(
                    ImageIds=[image_id]).get("Images", [])
        except AwsError as exc:
            if exc.code in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
                return None
            raise
        if not images:
            return None
        found = images[0]
        return Image(found["ImageId"], str(found.get("State", "")),
                     str(found.get("RootDeviceName", "")))

    def offered_zones(self, region: str, instance_type: str) -> frozenset[str]:
        paginator = self.clients.client("ec2", region).get_paginator(
            "describe_instance_type_offerings")
        zones: set[str] = set()
        with calling("DescribeInstanceTypeOfferings"):
            for page in paginator.paginate(
                    LocationType="availability-zone",
                    Filters=[{"Name": "instance-type", "Values": [instance_type]}]):
                zones.update(o["Location"] for o in page.get("InstanceTypeOfferings", []))
        return frozenset(zones)

    def quota(self, region: str, code: str) -> int:
        return ec2_quota(self.clients.client("service-quotas", region), code)

    # NetworkReader: the VPC plumbing.

    def routes(self, region: str, subnet_id: str) -> tuple[Route, ...]:
        ec2 = self.clients.client("ec2", region)
        with calling("DescribeRouteTables"):
            tables = ec2.describe_route_tables(Filters=[
                {"Name": "association.subnet-id", "Values": [subnet_id]}])["RouteTables"]
            if not tables:  # no table of its own: the VPC's main one
                vpc = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]
                tables = ec2.describe_route_tables(Filters=[
                    {"Name": "vpc-id", "Values": [vpc]},
                    {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
        return tuple(_route(r) for t in tables[:1] for r in t.get("Routes", []))

    def endpoints(self, region: str, vpc_id: str) -> frozenset[str]:
        with calling("DescribeVpcEndpoints"):
            found = self.clients.client("ec2", region).describe_vpc_endpoints(Filters=[
                {"Name": "vpc-id", "Values": [vpc_id]}]).get("VpcEndpoints", [])
        return frozenset(e["ServiceName"] for e in found
                         if str(e.get("State", "available")).lower() == "available")

    def egress_rules(self, region: str, subnet_id: str) -> tuple[AclRule, ...]:
        with calling("DescribeNetworkAcls"):
            acls = self.clients.client("ec2", region).describe_network_acls(Filters=[
                {"Name": "association.subnet-id", "Values": [subnet_id]}])["NetworkAcls"]
        rules = [e for acl in acls[:1] for e in acl.get("Entries", []) if e.get("Egress")]
        return tuple(sorted((_rule(e) for e in rules), key=lambda r: r.number))

    # AlarmReader

    def alarms(self, prefix: str) -> tuple[AlarmState, ...]:
        paginator = self.clients.client("cloudwatch").get_paginator("describe_alarms")
        found = []
        with calling("DescribeAlarms"):
            for page in paginator.paginate(AlarmNamePrefix=prefix):
                found += [AlarmState(a["AlarmName"], a["StateValue"], a.get("StateReason", ""))
                          for a in page.get("MetricAlarms", [])]
        return tuple(found)


def _route(route: Mapping[str, Any]) -> Route:
    target = next((str(route[k]) for k in _TARGETS if route.get(k)), "")
    destination = (route.get("DestinationCidrBlock") or route.get("DestinationPrefixListId")
                   or route.get("DestinationIpv6CidrBlock") or "")
    return Route(str(destination), target, route.get("State", "active") == "active")


def _rule(entry: Mapping[str, Any]) -> AclRule:
    ports = entry.get("PortRange")
    return AclRule(
        number=int(entry["RuleNumber"]), cidr=str(entry.get("CidrBlock", "")),
        protocol=str(entry.get("Protocol", "-1")), allow=entry.get("RuleAction") == "allow",
        ports=(int(ports["From"]), int(ports["To"])) if ports else None)
