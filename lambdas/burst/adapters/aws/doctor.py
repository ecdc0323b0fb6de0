"""The preflight's AWS reads (burst.ports.doctor): lifecycle hooks, the join parameter's age,
the deployed functions' environment. Read-only; errors leave as burst.core.errors types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from burst.adapters.aws.regions import GroupRegions
from burst.adapters.aws.session import Clients, calling
from burst.core.errors import AwsError

# The variable every function of a deployment carries (stacks/controller/construct.py).
CLUSTER_VARIABLE = "FPGA_BURST_CLUSTER_NAME"


class AwsDoctor:
    """HookReader, ParameterReader and DeployedFunctions over one Clients."""

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
